/**
 * Fault 2: followers SIGKILLed at random and restarted during a rollout to 8 of them. All converge
 * on the release, and a restarted follower fetches only what was not on its disk when it died:
 * what a killed process loses is at most the requests it had in flight.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type NodeHandle } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { seededRandom } from '../../src/scheduler/index.js';
import { honestBans, sleep, sumBytesLost } from './harness.js';
import { PieceOracle } from './piece-oracle.js';
import { declareCases } from './record.js';

const KILLS = 6;
let dir: string;
let cluster: LocalCluster | undefined;

afterAll(async () => {
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Restart {
  node: NodeHandle;
  /** Pieces verified on its disk right after the kill. */
  onDisk: number;
  /** Where the restarted process's log lines begin. */
  logFrom: number;
}

/** "fetching M of N pieces" of the process that logged after `from`, if it reached that step. */
function fetchedAfter(log: string, from: number): { missing: number; total: number } | null {
  const m = /release 1: fetching (\d+) of (\d+) pieces/.exec(log.slice(from));
  return m ? { missing: Number(m[1]), total: Number(m[2]) } : null;
}

describe('fault 2: followers killed and restarted during a rollout', () => {
  it('all 8 converge, and nothing on disk is fetched again after a restart', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: '2 followers killed', tried: KILLS });
    dir = await mkdtemp(join(tmpdir(), 'cs-fault-fol-'));
    const source = join(dir, 'source');
    await generateTree(source, { bytes: 6 * 1024 * 1024, files: 30, perDir: 10, seed: 41 });
    const c = await LocalCluster.create({ dir, followers: 8, limits: { uploadBytesPerSec: 1024 * 1024 }, extra: { verify: { intervalSec: 0 } } });
    cluster = c;
    await c.publish(source);
    const oracle = await PieceOracle.load(c.publisher.dataDir, 1);
    for (const n of c.nodes) c.start(n);
    const random = seededRandom(42);
    const restarts: Restart[] = [];
    await c.waitFor('the first pieces to arrive', async () => (await oracle.union(c.followers)).size > 0, 60_000);
    for (let k = 0; k < KILLS; k++) {
      const running = [];
      for (const f of c.followers) if (f.proc && (await c.status(f))?.live !== 1) running.push(f);
      if (running.length === 0) break;
      const victim = running[Math.floor(random() * running.length)]!;
      await c.stop(victim, 'SIGKILL');
      const onDisk = (await oracle.held(victim)).size;
      const logFrom = (await c.log(victim)).length;
      await sleep(300 + random() * 700);
      c.start(victim);
      restarts.push({ node: victim, onDisk, logFrom });
      await sleep(800 + random() * 800);
    }
    await c.waitLive(c.followers, 1, 120_000);
    meta.tried = restarts.length;
    meta.bytesLost = await sumBytesLost(source, c.followers);
    let refetched = 0;
    const seen: string[] = [];
    for (const r of restarts) {
      const f = fetchedAfter(await c.log(r.node), r.logFrom);
      // A follower killed after its release was complete has nothing left to fetch.
      if (!f) continue;
      expect(f.total).toBe(oracle.pieces.length);
      refetched += Math.max(0, f.missing - (f.total - r.onDisk));
      seen.push(`${r.node.name}: ${r.onDisk} pieces on disk at the kill, ${f.missing} fetched after the restart`);
    }
    meta.notes = [`${restarts.length} kills of ${oracle.pieces.length}-piece rollout; pieces on disk fetched again: ${refetched}`, ...seen];
    expect(restarts.length).toBeGreaterThanOrEqual(3);
    expect(refetched).toBe(0);
    expect(meta.bytesLost).toBe(0);
    expect(await honestBans(c)).toEqual([]);
  }, 180_000);
});
