// The client side of the control socket (control-socket.ts is the server's): what the CLI loads
// to ask a running node a query before the rest of it (src/cli/early-query.ts), so no schema here.
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { ChunkswarmError, type ErrorCode } from '../core/errors.js';
import type { MembershipCommand } from '../membership/index.js';
import type { NodeCommand } from './node-commands.js';

/** Activating a large release (hooks included) can take minutes; the node starts on it at once. */
const REQUEST_TIMEOUT_MS = 30 * 60_000;

/** A publish run by the node's own process (its code is warm, its stores open); `source` is absolute. */
export interface PublishCommand {
  op: 'publish';
  source: string;
  note?: string;
  force?: boolean;
  allowShrink?: boolean;
  /** The id of the PrescanCommand the same command sent as it started: its scan is this publish's. */
  prescan?: string;
}

/**
 * Sent by `publish` as it starts (src/cli/early-query.ts): the node scans the source while the
 * command loads, validates its config and sends the publish itself, which takes the scan by `id`.
 * A scan changes nothing: one whose command failed is forgotten.
 */
export interface PrescanCommand {
  op: 'prescan';
  source: string;
  id: string;
}

/**
 * `chunkswarm verify` asked of the running node: its stat cache and code are warm (no second
 * process loads them), and it stays the only writer of its stat cache.
 */
export interface VerifyCommand {
  op: 'verify';
  deep?: boolean;
}

/**
 * A node command, a membership command, a publish, a verify, or `status`: the running node's
 * report, fresh (status.json may be stale, or unwritable on a full disk).
 */
export type ControlRequest =
  | NodeCommand | MembershipCommand | PublishCommand | PrescanCommand | VerifyCommand | { op: 'status' } | { op: 'fleet' } | { op: 'drift-pull'; node: string; record?: string };

/** A node command or verify queued behind the step the node is in: why the answer takes a while. */
export interface WaitingNotice {
  waiting: string;
}

export type Reply = { ok: true; value: unknown } | { ok: false; code: ErrorCode; message: string };

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, 'control.sock');
}

/**
 * Sends a request to the `serve` running on this data directory and returns its answer. Null
 * when none listens (no socket, or a dead one's), so that the caller does without it. `onNotice`
 * receives the node's progress lines as they come. Aborting `signal` closes the connection: null.
 */
export async function callControl(
  dataDir: string,
  cmd: ControlRequest,
  o: { timeoutMs?: number; onNotice?: (notice: unknown) => void; signal?: AbortSignal } = {},
): Promise<unknown> {
  const path = controlSocketPath(dataDir);
  const timeoutMs = o.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const malformed = () => new ChunkswarmError('E_PROTOCOL', `the running node sent a malformed answer over ${path}`);
  // Killed, crashed or stopped while it worked: what it did not finish did not take effect.
  const gone = () => new ChunkswarmError('E_CLOSED', `the running node closed ${path} before it finished "${cmd.op}": it stopped or died (see its log, and "chunkswarm status")`);
  const reply = await new Promise<Reply | null>((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    let last: Reply | null = null;
    let connected = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ChunkswarmError('E_TIMEOUT', `the running node (${path}) did not finish "${cmd.op}" within ${timeoutMs / 1000} s; see its log`));
    }, timeoutMs);
    const fail = (err: ChunkswarmError) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    const take = (line: string) => {
      if (line === '') return;
      let msg: { notice?: unknown } & Partial<Reply>;
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return fail(malformed());
      }
      if ('notice' in msg) o.onNotice?.(msg.notice);
      else last = msg as Reply;
    };
    o.signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(null);
    });
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      connected = true;
      sock.write(JSON.stringify(cmd) + '\n');
    });
    sock.on('data', (c: string) => {
      buf += c;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        take(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    sock.on('end', () => {
      clearTimeout(timer);
      take(buf);
      if (last === null) reject(buf === '' ? gone() : malformed());
      else resolve(last);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) resolve(null);
      else if (connected && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) reject(gone());
      else reject(ChunkswarmError.fromSystem(err, `talking to the running node over ${path}`));
    });
  });
  if (reply === null) return null;
  if (!reply.ok) throw new ChunkswarmError(reply.code, reply.message);
  return reply.value;
}
