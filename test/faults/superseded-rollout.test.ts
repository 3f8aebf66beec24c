/**
 * A newer release published while the followers are still fetching the previous one: they drop
 * the old download (keeping what they wrote), follow the new head and go live on it. A stopped
 * download used to leave the node waiting for it forever.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { honestBans, meanProgress, sumBytesLost } from './harness.js';
import { declareCases } from './record.js';

let dir: string;
let cluster: LocalCluster | undefined;

afterAll(async () => {
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a release superseded mid-rollout', () => {
  it('followers switch to the newer release and go live on it', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: 'release superseded mid-rollout', tried: 1 });
    dir = await mkdtemp(join(tmpdir(), 'cs-fault-superseded-'));
    const c = await LocalCluster.create({ dir, followers: 3, limits: { uploadBytesPerSec: 512 * 1024 }, extra: { verify: { intervalSec: 0 } } });
    cluster = c;
    const first = join(dir, 'first');
    const second = join(dir, 'second');
    await generateTree(first, { bytes: 4 * 1024 * 1024, files: 20, perDir: 10, seed: 51 });
    await generateTree(second, { bytes: 1024 * 1024, files: 10, perDir: 10, seed: 52 });
    await c.publish(first);
    for (const n of c.nodes) c.start(n);
    let at = 0;
    await c.waitFor('the first rollout under way', async () => (at = await meanProgress(c, c.followers, 1)) > 0.1, 60_000);
    expect(at).toBeLessThan(1);
    // Half the files of the first: a shrink the publish refuses unless told.
    const { version } = await c.publish(second, ['--allow-shrink']);
    await c.waitLive(c.followers, version!, 60_000);
    meta.bytesLost = await sumBytesLost(second, c.followers);
    meta.notes = [`release 2 published at ${(100 * at).toFixed(0)}% of release 1`];
    expect(meta.bytesLost).toBe(0);
    expect(await honestBans(c)).toEqual([]);
    for (const f of c.followers) expect(await c.log(f)).toMatch(/release 2 announced/);
  }, 120_000);
});
