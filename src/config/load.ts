import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ChunkswarmError, splitHostPort } from '../core/index.js';
import { pathFromConfig } from './paths.js';
import { configSchema, type ParsedConfig } from './schema.js';

/** A validated config with every path made absolute (relative paths are relative to the file). */
export interface Config extends ParsedConfig {
  configPath: string;
  node: { name: string };
  /** Parsed network.bootstrap. */
  bootstrapNodes: Array<{ host: string; port: number }>;
}

function describeIssue(issue: z.core.$ZodIssue): ChunkswarmError {
  const field = issue.path.map(String).join('.') || '(root)';
  return ChunkswarmError.config(field, issue.message);
}

export function parseConfig(raw: unknown, configPath: string): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const first = result.error.issues[0];
    throw first ? describeIssue(first) : ChunkswarmError.config('(root)', 'invalid');
  }
  const c = result.data;
  const abs = (p: string) => pathFromConfig(configPath, p);
  if (c.network.bootstrapPort !== null && c.network.bootstrapPort === 0) {
    throw ChunkswarmError.config('network.bootstrapPort', 'must be a fixed port so followers can name it');
  }
  return {
    ...c,
    configPath,
    node: { name: c.node.name ?? hostname() },
    dataDir: abs(c.dataDir),
    livePath: abs(c.livePath),
    cluster: { ...c.cluster, secretFile: abs(c.cluster.secretFile) },
    publisher: c.publisher ? { ...c.publisher, privateKeyFile: abs(c.publisher.privateKeyFile) } : null,
    bootstrapNodes: c.network.bootstrap.map(splitHostPort),
  };
}

export async function loadConfig(path: string): Promise<Config> {
  const configPath = resolve(path);
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (err) {
    throw new ChunkswarmError('E_CONFIG', `cannot read config ${configPath}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ChunkswarmError('E_CONFIG', `config ${configPath} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(raw, configPath);
}
