/**
 * Fault 1: the publisher is SIGKILLed mid-rollout. When every chunk already has a copy on some
 * follower, the followers finish from each other; when not, each reports exactly the pieces no
 * connected peer has, and they finish once the publisher is back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { editConfig, honestBans, meanProgress, since, sleep, startPublisher, sumBytesLost } from './harness.js';
import { PieceOracle } from './piece-oracle.js';
import { declareCases } from './record.js';

const TREE = { bytes: 4 * 1024 * 1024, files: 24, perDir: 8 };
let dir: string | undefined;
let cluster: LocalCluster | undefined;

afterEach(async () => {
  // Teardown: nothing here looks at how the nodes stop (a SIGTERM stop waited ~2 s leaving the swarm).
  await cluster?.close('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
  cluster = dir = undefined;
});

/** A cluster of `followers` with the given upload rates; the publisher has published the tree. */
async function setUp(followers: number, publisherUp: number, followerUp: number, seed: number) {
  dir = await mkdtemp(join(tmpdir(), 'cs-fault-pub-'));
  const source = join(dir, 'source');
  await generateTree(source, { ...TREE, seed });
  const c = await LocalCluster.create({ dir, followers, limits: { uploadBytesPerSec: followerUp, requestTimeoutMs: 3000 }, extra: { verify: { intervalSec: 0 } } });
  cluster = c;
  await editConfig(c.publisher, (cfg) => (cfg.limits.uploadBytesPerSec = publisherUp));
  await c.publish(source);
  const oracle = await PieceOracle.load(c.publisher.dataDir, 1);
  // All at once: a node that starts alone waits for the DHT bootstrap nodes of the others.
  for (const n of c.nodes) c.start(n);
  return { c, source, oracle };
}

describe('fault 1: the publisher is killed mid-rollout', () => {
  it('followers finish from each other when every chunk has a copy among them', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: '1 publisher killed', tried: 1 });
    // The publisher can push a copy of everything quickly; the followers trade slowly.
    const { c, source, oracle } = await setUp(4, 2 * 1024 * 1024, 384 * 1024, 21);
    let covered = 0;
    await c.waitFor('every piece on some follower', async () => {
      covered = (await oracle.union(c.followers)).size;
      return covered === oracle.pieces.length;
    }, 60_000);
    const atKill = await meanProgress(c, c.followers, 1);
    await c.stop(c.publisher, 'SIGKILL');
    // Mid-rollout: some follower still lacks pieces, which only the other followers can now give it.
    expect(atKill, 'killed mid-rollout').toBeLessThan(1);
    const t0 = performance.now();
    await c.waitLive(c.followers, 1, 60_000);
    meta.bytesLost = await sumBytesLost(source, c.followers);
    meta.notes = [`killed at ${(100 * atKill).toFixed(0)}% mean progress with all ${covered} pieces on followers; they finished ${since(t0).toFixed(1)} s later`];
    expect(meta.bytesLost).toBe(0);
    expect(await honestBans(c)).toEqual([]);
    // Who got what from the publisher depends on who it unchoked first (a follower alone with it
    // may be offered the whole of a small release, and a fast publisher may complete another
    // between two status reports); what must hold is that the followers traded.
    const fromPeers = (await Promise.all(c.followers.map((f) => c.status(f)))).map((s) => s!.bytesDown - s!.bytesFromPublisher);
    expect(fromPeers.reduce((a, b) => a + b, 0), `bytes the followers got from each other: ${fromPeers.join(', ')}`).toBeGreaterThan(0);
  }, 120_000);

  it('followers report the pieces nobody has, and finish when the publisher returns', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: '1 publisher killed', tried: 1 });
    // A slow publisher and fast followers: at 30 % the followers hold about what it sent.
    const { c, source, oracle } = await setUp(2, 400 * 1024, 0, 22);
    let atKill = 0;
    await c.waitFor('30 % mean progress', async () => (atKill = await meanProgress(c, c.followers, 1)) >= 0.3, 60_000);
    await c.stop(c.publisher, 'SIGKILL');
    // Let the followers trade what they have, then compare their reports with the disks.
    let missing = -1;
    await c.waitFor('the followers to report the missing pieces', async () => {
      missing = oracle.pieces.length - (await oracle.union(c.followers)).size;
      const reports = await Promise.all(c.followers.map((f) => c.status(f)));
      return reports.every((s) => s?.unavailablePieces === missing && s.progress?.have === oracle.pieces.length - missing);
    }, 30_000);
    expect(missing).toBeGreaterThan(0);
    await sleep(2000);
    for (const f of c.followers) {
      const s = (await c.status(f))!;
      expect(s.live).toBeNull();
      expect(s.unavailablePieces).toBe(missing);
    }
    expect(await c.log(c.followers[0]!)).toMatch(new RegExp(`, ${missing} pieces on no connected peer`));
    const t0 = performance.now();
    await editConfig(c.publisher, (cfg) => (cfg.limits.uploadBytesPerSec = 0));
    await startPublisher(c);
    await c.waitLive(c.followers, 1, 60_000);
    meta.bytesLost = await sumBytesLost(source, c.followers);
    meta.notes = [`killed at ${(100 * atKill).toFixed(0)}% mean progress, ${missing} of ${oracle.pieces.length} pieces on no follower; done ${since(t0).toFixed(1)} s after the restart`];
    expect(meta.bytesLost).toBe(0);
    expect(await honestBans(c)).toEqual([]);
  }, 120_000);
});
