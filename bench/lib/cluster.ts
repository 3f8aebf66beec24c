import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { callControl, type NodeStatusReport, type PublishSummary } from '../../src/index.js';
import { inHost, type NetHost } from './netns.js';
import { freeUdpPort } from './ports.js';
import { repoRoot } from './results.js';
import { CLI, cli } from './run.js';

export interface NodeHandle {
  name: string;
  dir: string;
  config: string;
  live: string;
  dataDir: string;
  /** This node's own DHT bootstrap port (every node runs one, so none is a single point of failure). */
  port: number;
  proc: ChildProcess | null;
  /** Net guard report file (when the cluster was created with netGuard). */
  guardReport: string;
  /** The node's swarm key, once its directory is made. */
  key?: string;
  /** Its network namespace and address (bench --netns); none: 127.0.0.1. */
  host?: NetHost;
}

export interface ClusterOptions {
  dir: string;
  followers: number;
  /** swarm.config.json "limits" for every node (e.g. emulated link rates). */
  limits?: Record<string, number | null>;
  /** Extra config for every node (merged at the top level). */
  extra?: Record<string, unknown>;
  /** Extra "network" config for every node (merged into the bootstrap list and ports set here). */
  network?: Record<string, unknown>;
  /** Load the net guard into every node process (tests: no traffic beyond 127.0.0.0/8). */
  netGuard?: boolean;
  /** Extra node flags for every serve process (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** A command prefix that runs each serve as another user (e.g. setpriv --reuid=65534 ... --). */
  runAs?: string[];
  /**
   * Every node enforces the membership the publisher signs (network.allowlist []): the publisher
   * admits the followers made by create(); a node added later joins with a token (joinFollower).
   * Default: any node that knows the cluster secret.
   */
  membership?: boolean;
  /**
   * One network namespace per node (bench --netns), in order: the publisher, the followers, then
   * any added later. Each node binds its host's address (network.host) and runs, with every CLI
   * command made for it, inside its namespace. Default: every node on 127.0.0.1.
   */
  hosts?: NetHost[];
  /**
   * Every node's network.bootstrap: `all` the nodes' bootstrap nodes (none is needed for a node to
   * find the swarm), or `as-written`: what init and join wrote (the publisher's node; a token's
   * list), as an operator's nodes have it (each node still runs its own). Default: all.
   */
  bootstrapList?: 'all' | 'as-written';
}

/**
 * Serve processes started here and still running. A bench or test script that dies before close()
 * (an exception, process.exit) would leave them serving: two clusters of 33 left behind made the
 * next N=32 runs more than twice as slow as the same code without them. They are killed as the
 * script exits. Not on a signal: Ctrl-C reaches the nodes too (one process group), and a test
 * runner's own signal handling stays untouched.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

function address(n: NodeHandle): string {
  return n.host?.address ?? '127.0.0.1';
}

/**
 * A publisher and N followers on loopback (or each in a network namespace of its own), each a real `chunkswarm serve` process with its own
 * data directory, made with the real `init` command. Used by the integration tests, the demo and
 * the benchmarks.
 */
export class LocalCluster {
  readonly publisher: NodeHandle;
  readonly followers: NodeHandle[];

  private constructor(readonly opts: ClusterOptions, ports: number[]) {
    this.publisher = this.handle('publisher', ports[0]!, 0);
    this.followers = Array.from({ length: opts.followers }, (_, i) => this.handle(`follower-${i + 1}`, ports[i + 1]!, i + 1));
  }

  /** The handle of the `index`th node made (publisher 0), in its namespace if the cluster has them. */
  private handle(name: string, port: number, index = this.nodes.length): NodeHandle {
    const dir = join(this.opts.dir, name);
    let host: NetHost | undefined;
    if (this.opts.hosts) {
      host = this.opts.hosts[index];
      if (!host) throw new Error(`no network namespace left for node ${name} (${this.opts.hosts.length} made)`);
    }
    return {
      name, dir, config: join(dir, 'swarm.config.json'), live: join(dir, 'live'), dataDir: join(dir, 'data'), port, proc: null,
      guardReport: join(dir, 'net-guard.json'), ...(host && { host }),
    };
  }

  static async create(opts: ClusterOptions): Promise<LocalCluster> {
    const ports: number[] = [];
    while (ports.length <= opts.followers) ports.push(await freeUdpPort());
    const c = new LocalCluster(opts, ports);
    await cli(['init', '--dir', c.publisher.dir, '--publisher', '--bootstrap-port', String(c.publisher.port)]);
    await c.patchConfig(c.publisher);
    // Independent of each other: on two cores, a cluster of 4 is made in half the time.
    await Promise.all(c.followers.map((f) => c.addFollowerConfig(f)));
    if (opts.membership) await c.admitFollowers();
    return c;
  }

  /** The publisher signs the followers in (no node runs yet); each gets the record, as `join` would give it. */
  private async admitFollowers(): Promise<void> {
    for (const f of this.followers) await cli(['-c', this.publisher.config, 'admit', f.key!, '--name', f.name]);
    for (const f of this.followers) await copyFile(join(this.publisher.dataDir, 'membership.json'), join(f.dataDir, 'membership.json'));
  }

  /** The publisher's bootstrap port: the one a node outside the cluster's config would know. */
  get bootstrapPort(): number {
    return this.publisher.port;
  }

  get nodes(): NodeHandle[] {
    return [this.publisher, ...this.followers];
  }

  /** A further follower (e.g. one that joins later), not started. */
  async addFollower(name: string): Promise<NodeHandle> {
    const h = this.handle(name, await freeUdpPort());
    await this.addFollowerConfig(h);
    this.followers.push(h);
    return h;
  }

  private async addFollowerConfig(f: NodeHandle): Promise<void> {
    f.key = (JSON.parse((await cli(['init', '--dir', f.dir, '--join', this.publisher.config, '--json'])).stdout) as { nodeKey: string }).nodeKey;
    await this.patchConfig(f);
  }

  /**
   * A further follower made the way an operator would: `token create` on the running publisher,
   * `join <token>` for the new node; not started. Returns the handle and join's answer.
   */
  /** `live`: a livePath outside the node's directory (`adopt`: one that exists, taken over by the first release). */
  async joinFollower(name: string, opts: { name?: string; live?: string; adopt?: boolean } = {}): Promise<NodeHandle> {
    const h = this.handle(name, await freeUdpPort());
    if (opts.live) h.live = opts.live;
    const token = (await cli(['-c', this.publisher.config, 'token', 'create'], { host: this.publisher.host })).stdout.trim();
    const joined = await cli([
      'join', token, '--dir', h.dir, '--live', h.live, '--name', opts.name ?? name, '--bootstrap-port', String(h.port), '--json',
      ...(h.host ? ['--host', h.host.address] : []), ...(opts.adopt ? ['--adopt'] : []),
    ], { host: h.host });
    h.key = (JSON.parse(joined.stdout) as { nodeKey: string }).nodeKey;
    await this.patchConfig(h);
    this.followers.push(h);
    return h;
  }

  private async patchConfig(n: NodeHandle): Promise<void> {
    const cfg = JSON.parse(await readFile(n.config, 'utf8')) as Record<string, unknown>;
    if (this.opts.limits) cfg.limits = { ...(cfg.limits as object), ...this.opts.limits };
    cfg.network = {
      bootstrap: this.opts.bootstrapList === 'as-written'
        ? (cfg.network as { bootstrap: string[] }).bootstrap
        : [...this.nodes, n].filter((x, i, all) => all.indexOf(x) === i).map((x) => `${address(x)}:${x.port}`),
      bootstrapPort: n.port,
      // In its own namespace a node binds its one address: every socket it opens, DHT included.
      ...(n.host && { host: n.host.address }),
      // Many nodes on one host: each takes a free TCP port for its direct path.
      port: 0,
      allowlist: this.opts.membership ? [] : null,
      ...this.opts.network,
    };
    // Every node on one host would otherwise be named after it.
    cfg.node = { name: n.name };
    Object.assign(cfg, this.opts.extra ?? {});
    await writeFile(n.config, JSON.stringify(cfg, null, 2));
  }

  async publish(source: string, extra: string[] = []): Promise<PublishSummary> {
    const r = await cli(['-c', this.publisher.config, 'publish', source, '--json', ...extra], { host: this.publisher.host });
    return JSON.parse(r.stdout) as PublishSummary;
  }

  /** `env`: extra environment of the node process (e.g. the net guard's NET_GUARD_REFUSE). */
  start(n: NodeHandle, extraArgs: string[] = [], env: Record<string, string> = {}): void {
    if (n.proc) return;
    const guard = join(repoRoot, 'dist', 'test', 'support', 'net-guard.js');
    const execArgv = [...(this.opts.netGuard && existsSync(guard) ? ['--import', guard] : []), ...(this.opts.nodeArgs ?? [])];
    const log = createWriteStream(join(n.dir, 'serve.log'), { flags: 'a' });
    const [file, ...argv] = inHost(n.host, [...(this.opts.runAs ?? []), process.execPath, ...execArgv, CLI, '-c', n.config, 'serve', ...extraArgs]);
    const proc = spawn(file!, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NET_GUARD_REPORT: n.guardReport, ...env },
    });
    // Two sources, one log: the first to end must not end it under the other (write after end).
    proc.stdout!.pipe(log, { end: false });
    proc.stderr!.pipe(log, { end: false });
    proc.once('close', () => log.end());
    running.add(proc);
    proc.once('exit', () => {
      running.delete(proc);
      if (n.proc === proc) n.proc = null;
    });
    n.proc = proc;
  }

  /** Signals the node and waits for it to exit; SIGKILLs it after `killAfterMs`. */
  async stop(n: NodeHandle, signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 5000): Promise<void> {
    const proc = n.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    // A profiled node writes its profile on the way out: killed before that, the profile is lost.
    const profiled = (this.opts.nodeArgs ?? []).some((a) => a.startsWith('--cpu-prof') || a.startsWith('--heap-prof'));
    const timer = setTimeout(() => proc.kill('SIGKILL'), profiled ? Math.max(60_000, killAfterMs) : killAfterMs);
    await exited;
    clearTimeout(timer);
    n.proc = null;
  }

  async status(n: NodeHandle): Promise<NodeStatusReport | null> {
    try {
      return JSON.parse(await readFile(join(n.dataDir, 'status.json'), 'utf8')) as NodeStatusReport;
    } catch {
      return null;
    }
  }

  /** Piece bytes a running node has received, fresh from its control socket (0 before it answers). */
  async piecesReceived(n: NodeHandle): Promise<number> {
    const s = (await callControl(n.dataDir, { op: 'status' }, { timeoutMs: 1000 }).catch(() => null)) as NodeStatusReport | null;
    return s?.bytesDown ?? 0;
  }

  /** Whether the running process of `n` (not one before it) says it serves its release whole, fresh from its control socket. */
  async serving(n: NodeHandle): Promise<boolean> {
    const s = (await callControl(n.dataDir, { op: 'status' }, { timeoutMs: 1000 }).catch(() => null)) as NodeStatusReport | null;
    return s !== null && s.pid === n.proc?.pid && s.phase === 'seeding';
  }

  async log(n: NodeHandle): Promise<string> {
    return readFile(join(n.dir, 'serve.log'), 'utf8').catch(() => '');
  }

  /** How many `chunkswarm publish` commands the running master ran itself (the rest ran in the command). */
  async publishesByNode(): Promise<number> {
    return (await this.log(this.publisher)).split('operator: publish').length - 1;
  }

  /** Polls until `pred` holds; on timeout the error carries every node's log tail. */
  async waitFor(what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (await pred()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    const tails = await Promise.all(this.nodes.map(async (n) => `--- ${n.name}\n${(await this.log(n)).split('\n').slice(-15).join('\n')}`));
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${tails.join('\n')}`);
  }

  /** Waits until every given node reports `version` live. */
  async waitLive(nodes: NodeHandle[], version: number, timeoutMs = 60_000): Promise<void> {
    await this.waitFor(`release ${version} live on ${nodes.map((n) => n.name).join(', ')}`, async () => {
      const all = await Promise.all(nodes.map((n) => this.status(n)));
      return all.every((s) => s?.live === version);
    }, timeoutMs);
  }

  /**
   * Stops every node. `SIGKILL` is for a test's teardown, where nothing looks at how the nodes stop:
   * stopped together with SIGTERM, the last node's leaving the swarm waits ~2 s on DHT peers that
   * are already gone (its log: "stopping: leaving the swarm took 2.0 s").
   */
  async close(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stop(n, signal)));
  }
}
