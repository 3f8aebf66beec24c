import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { callControl, type ControlRequest } from '../admin/control-client.js';
import { CONFIG_FILE, DEFAULT_DATA_DIR, pathFromConfig } from '../config/paths.js';
import { waitingNotes } from './format.js';

/** `status` does not wait long for a busy node: its last report on disk answers instead. */
export const STATUS_TIMEOUT_MS = 5000;

type Flags = { json?: boolean; deep?: boolean };
type Query = { request: ControlRequest; options: Parameters<typeof callControl>[2] };

/**
 * The queries sent early, as their commands send them (`verify` through byNodeOrHere). Imported
 * from their modules, not src/client.ts: that one also brings the config's schema, which is what
 * the early query does not wait for.
 */
const QUERIES: Record<string, (f: Flags) => Query | null> = {
  verify: (f) => ({ request: { op: 'verify', ...(f.deep && { deep: true }) }, options: waitingNotes(f.json === true) }),
  status: (f) => (f.deep ? null : { request: { op: 'status' }, options: { timeoutMs: STATUS_TIMEOUT_MS } }),
};

/**
 * A query (`verify`, `status`) sent to the running node as the CLI starts, before the CLI loads
 * its commands, its libraries and the config's schema (~0.1 s of CPU, as long as `find` takes to
 * walk 50,000 files): the node works while they load. The command takes the answer only if, with
 * its options parsed and its config validated, it asks the same of the same node; a query
 * changes nothing on the node, so one left unused costs only the node's time.
 */
export class EarlyQuery {
  private readonly abandoned = new AbortController();
  private readonly reply: Promise<unknown>;

  private constructor(private readonly dataDir: string, private readonly request: ControlRequest, options: Query['options']) {
    this.reply = callControl(dataDir, request, { ...options, signal: this.abandoned.signal });
    // Held for take(); a command that never takes it has its own error to report.
    this.reply.catch(() => undefined);
  }

  /**
   * Sends the query that `argv` is, if it is one in a form commander reads the same way (else the
   * command asks as usual). The data directory is read from the config without validating it.
   */
  static send(argv: readonly string[], env: NodeJS.ProcessEnv): EarlyQuery | null {
    try {
      const { values, positionals } = parseArgs({
        args: argv.slice(2),
        options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, deep: { type: 'boolean' } },
        allowPositionals: true,
      });
      const query = positionals.length === 1 ? QUERIES[positionals[0]!]?.(values) : null;
      if (!query) return null;
      const configPath = resolve(values.config ?? env.CHUNKSWARM_CONFIG ?? CONFIG_FILE);
      const { dataDir = DEFAULT_DATA_DIR } = JSON.parse(readFileSync(configPath, 'utf8')) as { dataDir?: unknown };
      if (typeof dataDir !== 'string' || dataDir === '') return null;
      return new EarlyQuery(pathFromConfig(configPath, dataDir), query.request, query.options);
    } catch {
      // Not a query, or a config the command will report on when it reads it.
      return null;
    }
  }

  /** The node's answer (null: none runs) if `request` to the node of `dataDir` is this query, else undefined. */
  take(dataDir: string, request: ControlRequest): Promise<unknown> | undefined {
    return dataDir === this.dataDir && sameFields(request, this.request) ? this.reply : undefined;
  }

  /** Closes the connection of a query no command took, so that the process can end. */
  abandon(): void {
    this.abandoned.abort();
  }
}

function sameFields(a: object, b: object): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((k) => x[k] === y[k]);
}
