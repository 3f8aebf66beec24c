/**
 * Multi-host emulation for the benchmarks (`npm run bench -- --netns`): every node gets its own
 * network namespace with one address, joined through a veth pair to a bridge that lives in a
 * namespace of its own (the hub). Each veth is shaped by the kernel (`tc tbf` on the egress of
 * both ends: the node's end caps its upload, the hub's end its download). The addresses exist
 * only inside these namespaces: there is no default route and no NAT, and nothing is added to the
 * root namespace, so no packet can leave the machine. `tc netem` is not available on these
 * machines, so there is no latency emulation: links are rate-shaped, not delayed.
 *
 * Names: `csb<pid>h` (hub), `csb<pid>n<i>` (node i). The pid is the bench's own: a namespace of
 * the prefix whose pid is no longer running is left over from a killed run, and swept at start.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { ChunkswarmError } from '../../src/index.js';
import { ensureTool } from './tools.js';
import { processRunning } from './proc-cpu.js';

const PREFIX = 'csb';
/** Bridge and veth ends inside the namespaces: their names never reach the root namespace. */
const BRIDGE = 'br0';
const NODE_DEV = 'eth0';

export interface NetHost {
  /** The namespace the host's processes run in. */
  ns: string;
  /** Its one address: what it binds and what the others reach it on. */
  address: string;
}

/** argv, run inside the host's namespace (or as is without one). */
export function inHost(host: NetHost | null | undefined, argv: string[]): string[] {
  return host ? ['ip', 'netns', 'exec', host.ns, ...argv] : argv;
}

function run(cmd: 'ip' | 'tc', args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
}

const ip = (args: string[]) => run('ip', args);

/** The namespaces that exist (names only; `ip netns list` adds "(id: N)"). */
function namespaces(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

/** Stops what still runs in a namespace (only processes the bench started live there), then deletes it. */
function removeNamespaceSync(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // no such namespace any more
  }
  // The veth pairs go with the namespaces that hold their ends.
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** Removes the namespaces of bench runs whose process is gone (a run killed before its cleanup). */
export function sweepStale(): string[] {
  const stale = namespaces().filter((ns) => {
    const m = new RegExp(`^${PREFIX}(\\d+)[hn]`).exec(ns);
    return m !== null && Number(m[1]) !== process.pid && !processRunning(Number(m[1]));
  });
  for (const ns of stale) removeNamespaceSync(ns);
  return stale;
}

/** The namespaces and veth ends of this process's runs that still exist (tests: nothing is left). */
export function leftovers(pid = process.pid): string[] {
  return namespaces().filter((ns) => ns.startsWith(`${PREFIX}${pid}h`) || ns.startsWith(`${PREFIX}${pid}n`));
}

/**
 * Why namespaces cannot be made here, or null: the tools (installed if missing) and the right to
 * create one, tried for real.
 */
export async function netnsUnavailable(): Promise<string | null> {
  for (const tool of ['ip', 'tc']) {
    const t = ensureTool(tool, 'iproute2');
    if (!t.ok) return t.reason;
  }
  const probe = `${PREFIX}${process.pid}probe`;
  try {
    await ip(['netns', 'add', probe]);
  } catch (err) {
    return `cannot create a network namespace (needs root or CAP_NET_ADMIN): ${(err as Error).message}`;
  } finally {
    removeNamespaceSync(probe);
  }
  return null;
}

/** Bytes one host's link carried so far, as the kernel counts them (its veth end). */
export interface LinkBytes {
  sent: number;
  received: number;
}

export interface NetnsLabOptions {
  /** How many hosts (namespaces) to make. */
  hosts: number;
  /** Every link's rate, bytes per second, in both directions. */
  rate: number;
}

/**
 * The namespaces of one bench run. create() refuses (E_USAGE) where they cannot be made; close()
 * (safe twice) and, as a last resort, the process's exit remove them all.
 */
export class NetnsLab {
  private closed = false;
  private readonly onExit = () => this.removeAll();

  private constructor(readonly hub: string, readonly hosts: NetHost[], readonly rate: number) {
    process.once('exit', this.onExit);
  }

  static async create(opts: NetnsLabOptions): Promise<NetnsLab> {
    const why = await netnsUnavailable();
    if (why) throw new ChunkswarmError('E_USAGE', `--netns cannot run here: ${why}`);
    if (opts.hosts > 250) throw new ChunkswarmError('E_USAGE', `--netns: ${opts.hosts} hosts do not fit in one /24 (at most 250)`);
    const swept = sweepStale();
    if (swept.length > 0) console.log(`netns: removed ${swept.length} namespaces left by an earlier run (${swept.slice(0, 3).join(', ')}${swept.length > 3 ? ', ...' : ''})`);
    // The third octet only tells runs apart in a listing: each run's hosts live in their own hub.
    const net = `10.213.${process.pid % 250}`;
    const hosts = Array.from({ length: opts.hosts }, (_, i) => ({ ns: `${PREFIX}${process.pid}n${i}`, address: `${net}.${i + 2}` }));
    const lab = new NetnsLab(`${PREFIX}${process.pid}h`, hosts, opts.rate);
    try {
      await lab.build();
    } catch (err) {
      lab.removeAll();
      throw new ChunkswarmError('E_IO', `--netns: building the namespaces failed: ${(err as Error).message}`, { cause: err });
    }
    return lab;
  }

  private async build(): Promise<void> {
    await ip(['netns', 'add', this.hub]);
    await ip(['-n', this.hub, 'link', 'add', BRIDGE, 'type', 'bridge']);
    await ip(['-n', this.hub, 'link', 'set', BRIDGE, 'up']);
    await ip(['-n', this.hub, 'link', 'set', 'lo', 'up']);
    // A few at a time: each is a handful of netlink calls, and 30+ hosts one by one take seconds.
    for (let i = 0; i < this.hosts.length; i += 8) {
      await Promise.all(this.hosts.slice(i, i + 8).map((h, j) => this.addHost(h, i + j)));
    }
  }

  private async addHost(h: NetHost, i: number): Promise<void> {
    const hubEnd = `v${i}`;
    await ip(['netns', 'add', h.ns]);
    await ip(['-n', this.hub, 'link', 'add', hubEnd, 'type', 'veth', 'peer', 'name', NODE_DEV, 'netns', h.ns]);
    await ip(['-n', this.hub, 'link', 'set', hubEnd, 'master', BRIDGE, 'up']);
    await ip(['-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', NODE_DEV]);
    await ip(['-n', h.ns, 'link', 'set', NODE_DEV, 'up']);
    await ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
    // Egress of the node's end is its upload, egress of the hub's end its download.
    await shape(h.ns, NODE_DEV, this.rate);
    await shape(this.hub, hubEnd, this.rate);
  }

  /** Bytes each host's link carried so far, in the order of `hosts`. */
  async counters(): Promise<LinkBytes[]> {
    return Promise.all(this.hosts.map(async (h) => {
      const out = await ip(['-n', h.ns, '-s', '-j', 'link', 'show', NODE_DEV]);
      const s = (JSON.parse(out) as Array<{ stats64: { rx: { bytes: number }; tx: { bytes: number } } }>)[0]!.stats64;
      return { sent: s.tx.bytes, received: s.rx.bytes };
    }));
  }

  /** How the links are made, for the report. */
  describe(): string {
    return (
      `--netns: each node in its own network namespace (${this.hosts[0]!.address.replace(/\.\d+$/, '.0/24')}, one bridge in a namespace of its own, ` +
      `no route out), each link a veth pair shaped by the kernel (tc tbf ${(this.rate / 1e6).toFixed(2)} MB/s on the egress of both ends: ` +
      'upload and download caps); no latency (tc netem is not available here)'
    );
  }

  close(): void {
    this.removeAll();
  }

  private removeAll(): void {
    if (this.closed) return;
    this.closed = true;
    process.removeListener('exit', this.onExit);
    for (const h of this.hosts) removeNamespaceSync(h.ns);
    removeNamespaceSync(this.hub);
  }
}

/**
 * A token bucket filter at `rate` bytes/s. The burst holds a full GSO packet (64 KiB), which tbf
 * would otherwise have to split, and at least 10 ms of traffic; the queue holds 200 ms, so a TCP
 * flow keeps the link busy without the queue growing without end.
 */
async function shape(ns: string, dev: string, rate: number): Promise<void> {
  const burst = Math.max(64 * 1024 + 1514, Math.round(rate / 100));
  await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${Math.round(rate * 8)}bit`, 'burst', String(burst), 'latency', '200ms']);
}
