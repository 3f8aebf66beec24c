import { readlink } from 'node:fs/promises';
import { basename } from 'node:path';
import type { NodeStatusReport } from '../../src/index.js';
import { DEFAULT_MAX_PEERS } from '../../src/swarm/index.js';
import { LocalCluster, type NodeHandle } from '../lib/cluster.js';
import { Completions } from './completions.js';
import { benchMeshFull, benchObjectClients } from './options.js';
import type { Method, MethodContext, MethodSession, ScenarioName, StepFigures } from './types.js';

const MB = 1e6;
/** status.json is rewritten every second: wait this long after completion for final counters. */
const STATUS_SETTLE_MS = 1100;

/** The live release of a node, read from its livePath symlink (exact, unlike the 1 s status file). */
async function liveVersion(n: NodeHandle): Promise<number | null> {
  const target = await readlink(n.live).catch(() => null);
  return target === null ? null : Number(basename(target));
}

class ChunkswarmSession implements MethodSession {
  private version = 0;

  constructor(private readonly ctx: MethodContext, private readonly cluster: LocalCluster) {}

  async step(scenario: ScenarioName): Promise<StepFigures> {
    if (scenario === 'bootstrap') return this.bootstrap();
    const source = scenario === 'cold' ? this.ctx.image.v1 : this.ctx.image.v2;
    const before = await this.counters();
    // Publishing (scan, chunk, hash) happens while the nodes run, before the clock starts: the
    // baselines' equivalent (torrent creation) is excluded the same way.
    const pub = await this.cluster.publish(source);
    this.version = pub.version!;
    const followers = this.cluster.followers;
    const done = new Completions(followers.length);
    done.start();
    await done.poll(async (i) => (await liveVersion(followers[i]!)) === this.version, this.ctx.timeoutMs(scenario));
    const after = await this.counters();
    return {
      completions: done.times,
      publisherSent: after.publisherUp - before.publisherUp,
      received: after.followersDown - before.followersDown,
      prepSeconds: pub.seconds,
      note: `publish: ${(pub.newBytes / MB).toFixed(1)} MB of new chunks`,
    };
  }

  /**
   * A new node joins as an operator would (`token create` on the master, `join <token>`), then the
   * publisher stops, then the new node starts: every byte must come from the frontends. The clock
   * runs from its `serve`.
   */
  private async bootstrap(): Promise<StepFigures> {
    const late = await this.cluster.joinFollower('late-joiner');
    await this.cluster.stop(this.cluster.publisher);
    const before = await this.counters();
    const done = new Completions(1);
    const firstByte = new Completions(1);
    done.start();
    firstByte.start();
    this.cluster.start(late);
    await done.poll(async () => {
      if (firstByte.times[0] === null && (await this.cluster.piecesReceived(late)) > 0) firstByte.mark(0);
      return (await liveVersion(late)) === this.version;
    }, this.ctx.timeoutMs('bootstrap'));
    // What the frontends uploaded is what the new node received: its own status.json is written
    // only once it has fully joined the swarm, which may be after it completed.
    const after = await this.counters();
    return { completions: done.times, firstByte: firstByte.times, publisherSent: 0, received: after.frontendsUp - before.frontendsUp };
  }

  /** Piece bytes the publisher and the frontends sent and the frontends received so far (status.json). */
  private async counters(): Promise<{ publisherUp: number; frontendsUp: number; followersDown: number }> {
    await new Promise((r) => setTimeout(r, STATUS_SETTLE_MS));
    const pub = await this.cluster.status(this.cluster.publisher);
    const frontends = this.cluster.followers.filter((f) => f.name !== 'late-joiner');
    const fs = await Promise.all(frontends.map((f) => this.cluster.status(f)));
    return {
      publisherUp: pub?.bytesUp ?? 0,
      frontendsUp: fs.reduce((a, s) => a + (s?.bytesUp ?? 0), 0),
      followersDown: fs.reduce((a, s) => a + (s?.bytesDown ?? 0), 0),
    };
  }

  close(): Promise<void> {
    return this.cluster.close();
  }
}

function connected(s: NodeStatusReport | null): number {
  return s?.peers.filter((p) => p.connected).length ?? 0;
}

export const chunkswarm: Method = {
  name: 'chunkswarm',
  describe: (rate, netns) =>
    netns
      ? 'LocalCluster: publisher + N followers as real `chunkswarm serve` processes, each in its own network namespace and bound to ' +
        `its address (network.host), no token buckets (limits 0): the kernel's links cap them at ${(rate / MB).toFixed(2)} MB/s`
      : `LocalCluster: publisher + N followers as real \`chunkswarm serve\` processes on 127.0.0.1, each capped by its own ` +
        `token buckets (limits.uploadBytesPerSec = downloadBytesPerSec = ${(rate / MB).toFixed(2)} MB/s)`,
  available: async () => ({ ok: true }),
  async open(ctx) {
    const cluster = await LocalCluster.create({
      dir: ctx.work,
      followers: ctx.n,
      // In namespaces the links are shaped by the kernel: the token buckets stay off (0).
      limits: { ...(ctx.hosts ? { uploadBytesPerSec: 0, downloadBytesPerSec: 0 } : { uploadBytesPerSec: ctx.rate, downloadBytesPerSec: ctx.rate }), ...(process.env.BENCH_OBJECT_CLIENTS && { objectClients: benchObjectClients() }) },
      ...(ctx.hosts && { hosts: ctx.hosts }),
      extra: { verify: { intervalSec: 0 } },
      ...(process.env.BENCH_PROFILE_DIR && { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE_DIR] }),
    });
    try {
      for (const n of cluster.nodes) cluster.start(n);
      // The frontends are up and have found each other before the release exists, as in
      // production: the whole mesh (up to maxPeers), unless BENCH_MESH=partial, which takes
      // three quarters of min(N, 8) peers as formed (at N=32 the rollout then started with 14-24
      // of 32 peers connected).
      const full = benchMeshFull();
      const want = full ? Math.min(ctx.n, DEFAULT_MAX_PEERS) : Math.ceil(0.75 * Math.min(ctx.n, 8));
      const started = Date.now();
      await cluster.waitFor(`every node to join the swarm with ${want} peers`, async () => {
        const all = await Promise.all(cluster.nodes.map((n) => cluster.status(n)));
        return all.every((s) => s?.phase === 'idle' && connected(s) >= want);
      }, full ? 180_000 : 60_000);
      console.log(`    every node has ${want} peers, ${((Date.now() - started) / 1000).toFixed(1)} s after the ${ctx.n + 1} processes were started`);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return new ChunkswarmSession(ctx, cluster);
  },
};
