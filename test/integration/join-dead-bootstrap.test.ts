/**
 * A token (and so a joined node's config) that names bootstrap nodes that are gone: frontends the
 * master remembered and that were since shut down. The live one must be enough, for `join` as for
 * `serve`. hyperdht waits out each dead node of its bootstrap list in every query, and a bootstrap
 * node with a dead peer in its list stored no announcement for its first 6 s: such a join failed
 * (E_UNREACHABLE after its 30 s) before the nodes kept dead ones out of hyperdht's lists.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { freeUdpPort } from '../../bench/lib/ports.js';
import { bytesLost } from '../faults/harness.js';
import { expectClusterOnLoopback } from '../support/cluster-net-guard.js';

let dir: string;
let src: string;
let cluster: LocalCluster;
let dead: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-join-dead-'));
  src = join(dir, 'source');
  await generateTree(src, { bytes: 1 << 20, files: 20, perDir: 10, seed: 56 });
  cluster = await LocalCluster.create({ dir, followers: 0, membership: true, netGuard: true, bootstrapList: 'as-written' });
  expect((await cluster.publish(src)).version).toBe(1);
  // Frontends the master saw once (their bootstrap nodes remembered), all gone since.
  dead = [await freeUdpPort(), await freeUdpPort()].map((p) => `127.0.0.1:${p}`);
  await writeFile(join(cluster.publisher.dataDir, 'bootstrap-nodes.json'), JSON.stringify(dead));
  cluster.start(cluster.publisher);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

describe('a token whose bootstrap list names nodes that are gone', () => {
  it('joins through the one that answers, and the joined node goes live', async () => {
    const live = `127.0.0.1:${cluster.publisher.port}`;
    await cluster.waitFor('the publisher to answer on its control socket', async () => (await cluster.status(cluster.publisher)) !== null, 20_000);
    // The token lists the configured node, then the remembered ones.
    const joiner = await cluster.joinFollower('joiner', { name: 'web-5' });
    const cfg = JSON.parse(await readFile(joiner.config, 'utf8')) as { network: { bootstrap: string[] } };
    expect(cfg.network.bootstrap).toEqual([live, ...dead]);
    cluster.start(joiner);
    await cluster.waitLive([joiner], 1, 60_000);
    expect(await bytesLost(src, joiner.live)).toBe(0);
  });

  it('no node opened a socket to an address outside 127.0.0.0/8', async () => {
    await expectClusterOnLoopback(cluster);
  });
});
