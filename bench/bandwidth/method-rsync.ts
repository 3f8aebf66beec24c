import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { ensureTool } from '../lib/tools.js';
import { Completions } from './completions.js';
import type { Method, MethodContext, MethodSession, ScenarioName, StepFigures } from './types.js';

const MB = 1e6;

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** rsync's --bwlimit is in KiB/s. */
function kib(bytesPerSec: number): number {
  return Math.max(1, Math.floor(bytesPerSec / 1024));
}

interface Pull {
  ok: boolean;
  received: number;
  stderr: string;
}

/** Clients still running (a step that timed out); close() ends them. */
const running = new Set<ChildProcess>();

/** One rsync client pull; resolves when it exits, with its "Total bytes received". */
function pull(url: string, dest: string, bwlimit: number, onExit: () => void): Promise<Pull> {
  return new Promise((resolve) => {
    const p = spawn('rsync', ['-a', '--delete', '--stats', `--bwlimit=${bwlimit}`, url, `${dest}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('close', (code) => {
      running.delete(p);
      if (code === 0) onExit();
      const m = /Total bytes received: ([\d,]+)/.exec(out);
      resolve({ ok: code === 0, received: m ? Number(m[1]!.replace(/,/g, '')) : 0, stderr: err.trim() });
    });
  });
}

/** Bytes in the regular files under `root` (0 if it does not exist yet). */
async function bytesUnder(root: string): Promise<number> {
  let total = 0;
  for (const d of await readdir(root, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (d.isFile()) total += await stat(join(d.parentPath, d.name)).then((s) => s.size, () => 0);
  }
  return total;
}

class RsyncSession implements MethodSession {
  constructor(
    private readonly ctx: MethodContext,
    private readonly daemon: ChildProcess,
    private readonly port: number,
    private readonly dests: string[],
  ) {}

  async step(scenario: ScenarioName): Promise<StepFigures> {
    const { ctx } = this;
    if (scenario === 'bootstrap') {
      // The publisher is stopped: the new node pulls from a frontend (its daemon, the same cap).
      const done = new Completions(1);
      const firstByte = new Completions(1);
      const dest = join(ctx.work, 'late-joiner');
      done.start();
      firstByte.start();
      const pulling = pull(`rsync://127.0.0.1:${this.port}/frontend1/`, dest, kib(ctx.rate), () => done.mark(0));
      // rsync says nothing until a file is complete: its first byte is the first one on disk
      // (its temporary files included).
      const watching = firstByte.poll(async () => (await bytesUnder(dest)) > 0, ctx.timeoutMs(scenario));
      const r = await pulling;
      firstByte.mark(0);
      await watching;
      return { completions: done.times, firstByte: firstByte.times, publisherSent: 0, received: r.received, ...(r.ok ? {} : { note: r.stderr }) };
    }
    const module = scenario === 'cold' ? 'v1' : 'v2';
    const done = new Completions(this.dests.length);
    done.start();
    // Every frontend at once, each given an equal share of the publisher's upload.
    const pulls = this.dests.map((d, i) => pull(`rsync://127.0.0.1:${this.port}/${module}/`, d, kib(ctx.rate / ctx.n), () => done.mark(i)));
    const timeout = new Promise<null>((r) => setTimeout(() => r(null), ctx.timeoutMs(scenario)).unref());
    const results = await Promise.race([Promise.all(pulls), timeout]);
    if (results === null) ctx.log(`rsync ${scenario}: timed out; the clients still running are stopped at close`);
    const sent = (results ?? []).reduce((a, r) => a + r.received, 0);
    const failed = (results ?? []).find((r) => !r.ok);
    return { completions: done.times, publisherSent: sent, received: sent, ...(failed ? { note: failed.stderr } : {}) };
  }

  async close(): Promise<void> {
    for (const p of running) p.kill('SIGTERM');
    if (this.daemon.exitCode !== null) return;
    const exited = new Promise((r) => this.daemon.once('exit', r));
    this.daemon.kill('SIGTERM');
    await exited;
  }
}

export const rsync: Method = {
  name: 'rsync',
  describe: (rate) =>
    `a real rsync daemon on 127.0.0.1; every frontend pulls at once (rsync -a --delete); the publisher's total upload is ` +
    `capped at the link rate by giving each of the N clients --bwlimit = rate/N (the daemon's sender honours it); ` +
    `bootstrap pulls from a frontend with --bwlimit = ${(rate / MB).toFixed(2)} MB/s`,
  available: async () => ensureTool('rsync'),
  async open(ctx) {
    const dests = Array.from({ length: ctx.n }, (_, i) => join(ctx.work, `frontend${i + 1}`));
    for (const d of dests) await mkdir(d, { recursive: true });
    const conf = join(ctx.work, 'rsyncd.conf');
    const module = (name: string, path: string) => `[${name}]\n  path = ${path}\n  read only = yes\n`;
    await writeFile(conf, [
      // Root can read the mkdtemp (0700) trees only as root; no chroot needed on loopback.
      'uid = root\ngid = root\nuse chroot = no\nmax connections = 0\n',
      module('v1', ctx.image.v1),
      module('v2', ctx.image.v2),
      module('frontend1', dests[0]!),
    ].join('\n'));
    const port = await freeTcpPort();
    const daemon = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1'], { stdio: 'ignore' });
    await waitListening(port);
    return new RsyncSession(ctx, daemon, port, dests);
  },
};

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`rsync daemon did not listen on 127.0.0.1:${port}`);
}
