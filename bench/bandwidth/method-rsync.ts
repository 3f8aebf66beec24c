import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { inHost, type NetHost } from '../lib/netns.js';
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

/**
 * One rsync client pull (in `host`'s namespace, where the kernel caps it: then bwlimit is null);
 * resolves when it exits, with its "Total bytes received".
 */
function pull(url: string, dest: string, bwlimit: number | null, host: NetHost | undefined, onExit: () => void): Promise<Pull> {
  return new Promise((resolve) => {
    const [cmd, ...args] = inHost(host, ['rsync', '-a', '--delete', '--stats', ...(bwlimit === null ? [] : [`--bwlimit=${bwlimit}`]), url, `${dest}/`]);
    const p = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** A running rsync daemon: where it listens and its process. */
interface Daemon {
  proc: ChildProcess;
  address: string;
  port: number;
}

class RsyncSession implements MethodSession {
  private frontendDaemon: Daemon | null = null;

  constructor(
    private readonly ctx: MethodContext,
    private readonly daemon: Daemon,
    private readonly dests: string[],
  ) {}

  /** The cap of a pull that `share` of one link carries (null in namespaces: the kernel caps it). */
  private bwlimit(share: number): number | null {
    return this.ctx.hosts ? null : kib(this.ctx.rate * share);
  }

  async step(scenario: ScenarioName): Promise<StepFigures> {
    const { ctx } = this;
    const hosts = ctx.hosts;
    if (scenario === 'bootstrap') {
      // The publisher stops; the new node pulls from the first frontend's daemon, over that
      // frontend's link.
      await stopDaemon(this.daemon);
      this.frontendDaemon = await startDaemon(ctx.work, 'frontend1', [['frontend1', this.dests[0]!]], hosts?.[1]);
      const done = new Completions(1);
      const firstByte = new Completions(1);
      const dest = join(ctx.work, 'late-joiner');
      done.start();
      firstByte.start();
      const url = `rsync://${this.frontendDaemon.address}:${this.frontendDaemon.port}/frontend1/`;
      const pulling = pull(url, dest, this.bwlimit(1), hosts?.[ctx.n + 1], () => done.mark(0));
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
    // Every frontend at once; on loopback each is given an equal share of the publisher's upload,
    // in namespaces they share its link.
    const url = `rsync://${this.daemon.address}:${this.daemon.port}/${module}/`;
    const pulls = this.dests.map((d, i) => pull(url, d, this.bwlimit(1 / ctx.n), hosts?.[i + 1], () => done.mark(i)));
    const timeout = new Promise<null>((r) => setTimeout(() => r(null), ctx.timeoutMs(scenario)).unref());
    const results = await Promise.race([Promise.all(pulls), timeout]);
    if (results === null) ctx.log(`rsync ${scenario}: timed out; the clients still running are stopped at close`);
    const sent = (results ?? []).reduce((a, r) => a + r.received, 0);
    const failed = (results ?? []).find((r) => !r.ok);
    return { completions: done.times, publisherSent: sent, received: sent, ...(failed ? { note: failed.stderr } : {}) };
  }

  async close(): Promise<void> {
    for (const p of running) p.kill('SIGTERM');
    await stopDaemon(this.daemon);
    if (this.frontendDaemon) await stopDaemon(this.frontendDaemon);
  }
}

/**
 * An rsync daemon serving `modules` (name, path) on `host`'s address (127.0.0.1 without one),
 * listening once this resolves.
 */
async function startDaemon(work: string, name: string, modules: Array<[string, string]>, host: NetHost | undefined): Promise<Daemon> {
  const conf = join(work, `rsyncd-${name}.conf`);
  await writeFile(conf, [
    // Root can read the mkdtemp (0700) trees only as root; no chroot needed on a private network.
    'uid = root\ngid = root\nuse chroot = no\nmax connections = 0\n',
    ...modules.map(([m, path]) => `[${m}]\n  path = ${path}\n  read only = yes\n`),
  ].join('\n'));
  const address = host?.address ?? '127.0.0.1';
  // A namespace of its own has every port free.
  const port = host ? 873 : await freeTcpPort();
  const [cmd, ...args] = inHost(host, ['rsync', '--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, `--address=${address}`]);
  const daemon = { proc: spawn(cmd!, args, { stdio: 'ignore' }), address, port };
  try {
    await waitListening(daemon, host);
  } catch (err) {
    await stopDaemon(daemon);
    throw err;
  }
  return daemon;
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.proc.exitCode !== null || d.proc.signalCode !== null) return;
  const exited = new Promise((r) => d.proc.once('exit', r));
  d.proc.kill('SIGTERM');
  await exited;
}

export const rsync: Method = {
  name: 'rsync',
  describe: (rate, netns) =>
    netns
      ? 'a real rsync daemon in the publisher\'s network namespace; every frontend pulls at once (rsync -a --delete) from its own ' +
        `namespace, no --bwlimit: the kernel's links cap them at ${(rate / MB).toFixed(2)} MB/s (the publisher's upload is shared by ` +
        'the N pulls as TCP shares it); bootstrap: the publisher\'s daemon stops, the new node pulls from a daemon on the first frontend'
      : `a real rsync daemon on 127.0.0.1; every frontend pulls at once (rsync -a --delete); the publisher's total upload is ` +
        `capped at the link rate by giving each of the N clients --bwlimit = rate/N (the daemon's sender honours it); ` +
        `bootstrap: the publisher's daemon stops, the new node pulls from a daemon serving the first frontend with --bwlimit = ${(rate / MB).toFixed(2)} MB/s`,
  available: async () => ensureTool('rsync'),
  async open(ctx) {
    const dests = Array.from({ length: ctx.n }, (_, i) => join(ctx.work, `frontend${i + 1}`));
    for (const d of dests) await mkdir(d, { recursive: true });
    const daemon = await startDaemon(ctx.work, 'publisher', [['v1', ctx.image.v1], ['v2', ctx.image.v2]], ctx.hosts?.[0]);
    return new RsyncSession(ctx, daemon, dests);
  },
};

/** Until the daemon accepts connections: from this process on loopback, else from inside its namespace. */
async function waitListening(d: Daemon, host: NetHost | undefined): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (d.proc.exitCode !== null) break;
    if (await (host ? listsModules(d, host) : connects(d.port))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`rsync daemon did not listen on ${d.address}:${d.port}`);
}

function connects(port: number): Promise<boolean> {
  return new Promise<boolean>((r) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

function listsModules(d: Daemon, host: NetHost): Promise<boolean> {
  return new Promise((r) => {
    const [cmd, ...args] = inHost(host, ['rsync', `rsync://${d.address}:${d.port}/`]);
    spawn(cmd!, args, { stdio: 'ignore' }).once('close', (code) => r(code === 0));
  });
}
