import { chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { ChunkswarmError, type ErrorCode } from '../core/index.js';
import type { MembershipCommand } from '../membership/index.js';
import type { NodeCommand } from './node-commands.js';

/** sun_path is 108 bytes on Linux, 104 on the BSDs. */
const MAX_SOCKET_PATH = 103;
/** A publish carries a release note of up to 64 KiB, JSON-escaped. */
const MAX_REQUEST_BYTES = 512 * 1024;
/** Activating a large release (hooks included) can take minutes; the node starts on it at once. */
const REQUEST_TIMEOUT_MS = 30 * 60_000;

const commandSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('activate'), version: z.number().int().positive(), sourceData: z.string().optional() }),
  z.object({ op: z.literal('rollback'), version: z.number().int().positive().optional() }),
  z.object({ op: z.literal('unpin') }),
  z.object({ op: z.literal('drift-ack') }),
  z.object({ op: z.literal('gc') }),
  z.object({ op: z.literal('status') }),
  z.object({ op: z.literal('verify'), deep: z.boolean().optional() }),
  z.object({ op: z.literal('fleet') }),
  z.object({ op: z.literal('drift-pull'), node: z.string().min(1).max(128), record: z.string().max(64).optional() }),
  z.object({ op: z.literal('admit'), key: z.string(), name: z.string().optional() }),
  z.object({ op: z.literal('remove'), key: z.string() }),
  z.object({ op: z.literal('members') }),
  z.object({ op: z.literal('token-create'), ttlSec: z.number().positive(), uses: z.number().int().positive(), bootstrap: z.array(z.string()).optional() }),
  z.object({ op: z.literal('token-list') }),
  z.object({ op: z.literal('token-revoke'), id: z.string() }),
  z.object({ op: z.literal('publish'), source: z.string().min(1), note: z.string().optional(), force: z.boolean().optional(), allowShrink: z.boolean().optional() }),
]);

/** A publish run by the node's own process (its code is warm, its stores open); `source` is absolute. */
export interface PublishCommand {
  op: 'publish';
  source: string;
  note?: string;
  force?: boolean;
  allowShrink?: boolean;
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
  | NodeCommand | MembershipCommand | PublishCommand | VerifyCommand | { op: 'status' } | { op: 'fleet' } | { op: 'drift-pull'; node: string; record?: string };

/** A node command or verify queued behind the step the node is in: why the answer takes a while. */
export interface WaitingNotice {
  waiting: string;
}

/** Runs one request; `notify` sends the caller a line of progress before the answer. */
export type ControlHandler = (req: ControlRequest, notify: (notice: unknown) => void) => Promise<unknown>;

type Reply = { ok: true; value: unknown } | { ok: false; code: ErrorCode; message: string };

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, 'control.sock');
}

/** Why no control socket can be made in dataDir (its path is too long for a Unix socket), or null. */
export function controlSocketProblem(dataDir: string): string | null {
  const path = controlSocketPath(dataDir);
  return Buffer.byteLength(path) > MAX_SOCKET_PATH
    ? `${dataDir} is too long for the control socket ${path} (at most ${MAX_SOCKET_PATH} bytes): use a shorter path`
    : null;
}

/**
 * The running `serve`'s local control channel: a Unix socket in the data directory (mode 0600, so
 * only the node's own user can steer it) that takes one JSON command per connection and answers
 * with its result, so that `rollback`, `unpin`, `drift ack`... take effect in the running node.
 * Lines `{"notice": ...}` (progress) may come before the answer, which is the last line.
 */
export class ControlServer {
  private constructor(private readonly server: Server, private readonly path: string) {}

  /** The caller holds the data directory's lock: a socket file left here is a dead node's. */
  static async listen(dataDir: string, handle: ControlHandler): Promise<ControlServer> {
    const path = controlSocketPath(dataDir);
    const problem = controlSocketProblem(dataDir);
    if (problem !== null) throw ChunkswarmError.config('dataDir', problem);
    await unlink(path).catch(() => undefined);
    const server = createServer((sock) => serveOne(sock, handle));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(ChunkswarmError.fromSystem(err, `listening on ${path}`)));
      server.listen(path, () => resolve());
    });
    await chmod(path, 0o600);
    return new ControlServer(server, path);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await unlink(this.path).catch(() => undefined);
  }
}

function serveOne(sock: Socket, handle: ControlHandler): void {
  let buf = '';
  const reply = (r: Reply) => sock.end(JSON.stringify(r) + '\n');
  const notify = (notice: unknown) => {
    if (sock.writable) sock.write(JSON.stringify({ notice }) + '\n');
  };
  sock.setEncoding('utf8');
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_REQUEST_BYTES) return reply({ ok: false, code: 'E_USAGE', message: 'control request too large' });
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    sock.removeAllListeners('data');
    let cmd: ControlRequest;
    try {
      cmd = commandSchema.parse(JSON.parse(buf.slice(0, nl))) as ControlRequest;
    } catch {
      return reply({ ok: false, code: 'E_USAGE', message: 'malformed control request' });
    }
    handle(cmd, notify).then(
      (value) => reply({ ok: true, value }),
      (err: unknown) => {
        const e = ChunkswarmError.fromSystem(err, `running ${cmd.op}`);
        reply({ ok: false, code: e.code, message: e.message });
      },
    );
  });
}

/**
 * Sends a request to the `serve` running on this data directory and returns its answer. Null
 * when none listens (no socket, or a dead one's), so that the caller does without it. `onNotice`
 * receives the node's progress lines as they come.
 */
export async function callControl(
  dataDir: string,
  cmd: ControlRequest,
  o: { timeoutMs?: number; onNotice?: (notice: unknown) => void } = {},
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
