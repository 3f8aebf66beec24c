import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { z } from 'zod';
import { ChunkswarmError } from '../core/index.js';
import { controlSocketPath, type ControlRequest, type Reply } from './control-client.js';

/** sun_path is 108 bytes on Linux, 104 on the BSDs. */
const MAX_SOCKET_PATH = 103;
/** A publish carries a release note of up to 64 KiB, JSON-escaped. */
const MAX_REQUEST_BYTES = 512 * 1024;

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
  z.object({
    op: z.literal('publish'), source: z.string().min(1), note: z.string().optional(), force: z.boolean().optional(), allowShrink: z.boolean().optional(),
    prescan: z.string().max(64).optional(),
  }),
  z.object({ op: z.literal('prescan'), source: z.string().min(1), id: z.string().min(1).max(64) }),
]);

/** Runs one request; `notify` sends the caller a line of progress before the answer. */
export type ControlHandler = (req: ControlRequest, notify: (notice: unknown) => void) => Promise<unknown>;

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

