import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { callControl, controlSocketPath, type ControlRequest } from '../admin/control-client.js';
import { CONFIG_FILE, DEFAULT_DATA_DIR, pathFromConfig } from '../config/paths.js';
import { waitingNotes } from './format.js';

/** `status` does not wait long for a busy node: its last report on disk answers instead. */
export const STATUS_TIMEOUT_MS = 5000;

type Query = { request: ControlRequest; options: Parameters<typeof callControl>[2] };
type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] };

/**
 * The queries sent early, by command, with the options each command takes (as commander declares
 * them: any other, and no query is sent). `verify` and `status` are sent as their commands send
 * them (`verify` through byNodeOrHere); `publish` sends a prescan, whose id its publish names.
 * Imported from their modules, not src/client.ts: that one also brings the config's schema, which
 * is what the early query does not wait for.
 */
const QUERIES: Record<string, { options: ParseArgsConfig['options']; query: (p: Parsed) => Query | null }> = {
  verify: {
    options: { json: { type: 'boolean' }, deep: { type: 'boolean' } },
    query: ({ values: v, positionals: p }) => (p.length !== 1 ? null : { request: { op: 'verify', ...(v.deep && { deep: true }) }, options: waitingNotes(v.json === true) }),
  },
  status: {
    options: { json: { type: 'boolean' }, deep: { type: 'boolean' } },
    query: ({ values: v, positionals: p }) => (p.length !== 1 || v.deep ? null : { request: { op: 'status' }, options: { timeoutMs: STATUS_TIMEOUT_MS } }),
  },
  publish: {
    options: { json: { type: 'boolean' }, note: { type: 'string' }, force: { type: 'boolean' }, 'allow-shrink': { type: 'boolean' }, local: { type: 'boolean' } },
    query: ({ values: v, positionals: p }) =>
      (p.length !== 2 || v.local ? null : { request: { op: 'prescan', source: resolve(p[1]!), id: randomBytes(12).toString('hex') }, options: {} }),
  },
};

/** The query the command line `args` is, read with its command's options alone (parseArgs refuses any other), and its `--config`. */
function queryOf(args: readonly string[]): (Query & { config: string | undefined }) | null {
  for (const [name, command] of Object.entries(QUERIES)) {
    let parsed: Parsed;
    try {
      parsed = parseArgs({ args: [...args], options: { config: { type: 'string', short: 'c' }, ...command.options }, allowPositionals: true });
    } catch {
      continue;
    }
    if (parsed.positionals[0] !== name) continue;
    const query = command.query(parsed);
    const { config } = parsed.values;
    return query && { ...query, config: typeof config === 'string' ? config : undefined };
  }
  return null;
}

/**
 * A query (`verify`, `status`, a publish's prescan) sent to the running node as the CLI starts,
 * before the CLI loads its commands, its libraries and the config's schema (~0.1 s of CPU, as long
 * as `find` takes to walk 50,000 files): the node works while they load. The command takes the
 * answer (or the scan) only if, with its options parsed and its config validated, it asks the same
 * of the same node; a query changes nothing on the node, so one left unused costs only the node's time.
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
      const query = queryOf(argv.slice(2));
      if (!query) return null;
      const configPath = resolve(query.config ?? env.CHUNKSWARM_CONFIG ?? CONFIG_FILE);
      const { dataDir = DEFAULT_DATA_DIR } = JSON.parse(readFileSync(configPath, 'utf8')) as { dataDir?: unknown };
      if (typeof dataDir !== 'string' || dataDir === '') return null;
      const at = pathFromConfig(configPath, dataDir);
      // A node of another user publishes nothing for this one (the command publishes itself): no scan for it.
      if (query.request.op === 'prescan' && statSync(controlSocketPath(at), { throwIfNoEntry: false })?.uid !== process.getuid?.()) return null;
      return new EarlyQuery(at, query.request, query.options);
    } catch {
      // Not a query, or a config the command will report on when it reads it.
      return null;
    }
  }

  /** The node's answer (null: none runs) if `request` to the node of `dataDir` is this query, else undefined. */
  take(dataDir: string, request: ControlRequest): Promise<unknown> | undefined {
    return dataDir === this.dataDir && sameFields(request, this.request) ? this.reply : undefined;
  }

  /** The id of the prescan sent for a publish of `source` (absolute) by the node of `dataDir`, if this query is that. */
  prescanOf(dataDir: string, source: string): string | undefined {
    const r = this.request;
    return dataDir === this.dataDir && r.op === 'prescan' && r.source === source ? r.id : undefined;
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
