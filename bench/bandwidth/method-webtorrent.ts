import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inHost, type NetHost } from '../lib/netns.js';
import { repoRoot } from '../lib/results.js';
import { Completions } from './completions.js';
import type { Method, MethodContext, MethodSession, ScenarioName, StepFigures } from './types.js';
import type { FromNode, ToNode } from './wt-messages.js';

const MB = 1e6;
const NODE_JS = join(dirname(fileURLToPath(import.meta.url)), 'wt-node.js');

/**
 * One webtorrent process (in `host`'s namespace if given), and a way to await its next message of
 * a given type.
 */
class WtNode {
  readonly proc: ChildProcess;
  readonly address: string;
  port = 0;
  private readonly waiters: Array<{ type: FromNode['type']; resolve: (m: FromNode) => void }> = [];
  onDone: () => void = () => undefined;
  onFirstByte: () => void = () => undefined;
  lastError: string | null = null;

  /** `rate` 0: no throttle (the kernel's link caps it). */
  constructor(rate: number, host: NetHost | undefined) {
    this.address = host?.address ?? '127.0.0.1';
    // fork() without its own spawn: `ip netns exec` execs node in place, keeping the IPC channel.
    const [cmd, ...args] = inHost(host, [process.execPath, NODE_JS, String(rate)]);
    this.proc = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
    this.proc.on('message', (m: FromNode) => {
      if (m.type === 'done') this.onDone();
      if (m.type === 'first-byte') this.onFirstByte();
      if (m.type === 'error') this.lastError = m.message;
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    });
  }

  next<T extends FromNode['type']>(type: T, timeoutMs = 120_000): Promise<Extract<FromNode, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`webtorrent node: no "${type}" within ${timeoutMs} ms (${this.lastError ?? 'no error'})`)), timeoutMs);
      this.waiters.push({ type, resolve: (m) => {
        clearTimeout(timer);
        resolve(m as Extract<FromNode, { type: T }>);
      } });
    });
  }

  send(m: ToNode): void {
    this.proc.send(m);
  }

  async start(): Promise<this> {
    this.port = (await this.next('listening')).port;
    return this;
  }

  async stats(): Promise<{ uploaded: number; received: number }> {
    const reply = this.next('stats');
    this.send({ type: 'stats' });
    return reply;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

class WebTorrentSession implements MethodSession {
  private torrent = '';

  constructor(private readonly ctx: MethodContext, private readonly seed: WtNode, private readonly leechers: WtNode[]) {}

  async step(scenario: ScenarioName): Promise<StepFigures> {
    if (scenario === 'bootstrap') return this.bootstrap();
    const seeded = this.seed.next('seeded');
    this.seed.send({ type: 'seed', dir: scenario === 'cold' ? this.ctx.image.v1 : this.ctx.image.v2, pieceLength: this.ctx.pieceLength });
    const { torrent, seconds } = await seeded;
    this.torrent = torrent;
    const before = await this.counters();
    const done = new Completions(this.leechers.length);
    done.start();
    await this.fetch(this.leechers, done, scenario, (i) => [this.seed, ...this.leechers.slice(0, i)]);
    const after = await this.counters();
    return {
      completions: done.times,
      publisherSent: after.seed - before.seed,
      received: after.leechers - before.leechers,
      prepSeconds: seconds,
      ...(done.times.includes(null) ? { note: this.errors() } : {}),
    };
  }

  /** Add the torrent everywhere, wait until every node verified what it has, then connect them. */
  private async fetch(nodes: WtNode[], done: Completions, scenario: ScenarioName, peersOf: (i: number) => WtNode[]): Promise<void> {
    nodes.forEach((n, i) => (n.onDone = () => done.mark(i)));
    // Connections only once every node knows the torrent: a peer that does not yet know it drops
    // the connection, and webtorrent's reconnect back-off would then distort the times.
    await Promise.all(nodes.map(async (n) => {
      const ready = n.next('ready', this.ctx.timeoutMs(scenario));
      n.send({ type: 'add', torrent: this.torrent, path: join(this.ctx.work, `frontend${this.leechers.indexOf(n) + 1}`) });
      await ready.catch(() => undefined); // that node stays incomplete
    }));
    // Each pair connects once: node i dials the seed and the nodes before it.
    nodes.forEach((n, i) => n.send({ type: 'connect', peers: peersOf(i).map((p) => `${p.address}:${p.port}`) }));
    await done.wait(this.ctx.timeoutMs(scenario) - done.elapsed() * 1000);
  }

  /** The seed stops; a new node joins and fetches everything from the frontends. */
  private async bootstrap(): Promise<StepFigures> {
    await this.seed.stop();
    const done = new Completions(1);
    const firstByte = new Completions(1);
    done.start();
    firstByte.start();
    const late = await node(this.ctx, this.ctx.n + 1).start();
    late.onFirstByte = () => firstByte.mark(0);
    this.leechers.push(late);
    await this.fetch([late], done, 'bootstrap', () => this.leechers.slice(0, -1));
    const s = await late.stats();
    return {
      completions: done.times, firstByte: firstByte.times, publisherSent: 0, received: s.received,
      ...(done.times.includes(null) ? { note: this.errors() } : {}),
    };
  }

  private errors(): string {
    return [...new Set(this.leechers.map((l) => l.lastError).filter(Boolean))].join('; ') || 'no error reported';
  }

  private async counters(): Promise<{ seed: number; leechers: number }> {
    const [seed, ...ls] = await Promise.all([this.seed, ...this.leechers].map((n) => n.stats()));
    return { seed: seed!.uploaded, leechers: ls.reduce((a, s) => a + s.received, 0) };
  }

  async close(): Promise<void> {
    await Promise.all([this.seed, ...this.leechers].map((n) => n.stop()));
  }
}

/** The webtorrent node of host `i` (0: the seed): throttled by itself on loopback, by the kernel in a namespace. */
function node(ctx: MethodContext, i: number): WtNode {
  return ctx.hosts ? new WtNode(0, ctx.hosts[i]) : new WtNode(ctx.rate, undefined);
}

export const webtorrent: Method = {
  name: 'webtorrent',
  describe: (rate, netns) =>
    `webtorrent 2.8.5, one process per node; DHT, trackers, LSD, UPnP, NAT-PMP, uTP and web seeds off, peers added by ` +
    (netns
      ? `address; each node in its own network namespace, no throttles: the kernel's links cap them at ${(rate / MB).toFixed(2)} MB/s; `
      : `127.0.0.1 address; caps by webtorrent's own throttles (uploadLimit = downloadLimit = ${(rate / MB).toFixed(2)} MB/s, token buckets that hold one second of that rate, so a node may burst above its cap at first); `) +
    `a new multi-file torrent per release; the seed is the publisher`,
  async available() {
    if (!existsSync(NODE_JS)) return { ok: false, reason: `${NODE_JS} is missing: run tsc first` };
    if (!existsSync(join(repoRoot, 'node_modules', 'webtorrent', 'package.json'))) {
      return { ok: false, reason: 'the webtorrent devDependency is not installed (npm ci)' };
    }
    return { ok: true };
  },
  async open(ctx) {
    for (let i = 1; i <= ctx.n; i++) await mkdir(join(ctx.work, `frontend${i}`), { recursive: true });
    const nodes = await Promise.all(Array.from({ length: ctx.n + 1 }, (_, i) => node(ctx, i).start()));
    return new WebTorrentSession(ctx, nodes[0]!, nodes.slice(1));
  },
};
