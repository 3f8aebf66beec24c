import { dirname, resolve } from 'node:path';

/**
 * Where a node's files are, before any validation: the CLI asks a running node a query with no
 * more than this (src/cli/early-query.ts), so that it need not load the config's schema first.
 */
export const CONFIG_FILE = 'swarm.config.json';
export const DEFAULT_DATA_DIR = './data';

/** A path of the config made absolute: a relative one is relative to the config file. */
export function pathFromConfig(configPath: string, p: string): string {
  return resolve(dirname(configPath), p);
}
