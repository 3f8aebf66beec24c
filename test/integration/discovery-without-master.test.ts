/**
 * Finding the swarm while the master is down, in a cluster made as the README makes it: every
 * node's network.bootstrap lists the master's bootstrap node alone (what `join` writes from the
 * token), and every frontend runs one of its own. The frontends learn each other's from the fleet
 * reports and remember them (dataDir/bootstrap-nodes.json), so that with the master stopped a
 * frontend restarted alone, then all of them restarted at once, still find each other.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, type NodeHandle } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';

let dir: string;
let cluster: LocalCluster;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-discovery-'));
  const src = join(dir, 'source');
  await generateTree(src, { bytes: 1 << 20, files: 20, perDir: 10, seed: 21 });
  cluster = await LocalCluster.create({ dir, followers: 3, bootstrapList: 'publisher', netGuard: true, extra: { verify: { intervalSec: 0 }, fleet: { reportIntervalSec: 1 } } });
  expect((await cluster.publish(src)).version).toBe(1);
  for (const n of cluster.nodes) cluster.start(n);
  await cluster.waitLive(cluster.followers, 1, 60_000);
}, 90_000);

afterAll(async () => {
  await cluster?.close();
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

const remembered = async (n: NodeHandle): Promise<string[]> =>
  JSON.parse(await readFile(join(n.dataDir, 'bootstrap-nodes.json'), 'utf8').catch(() => '[]')) as string[];
const peersOf = async (n: NodeHandle): Promise<number> => (await cluster.status(n))?.peers.filter((p) => p.connected).length ?? 0;
const bootstrapOf = (n: NodeHandle) => `127.0.0.1:${n.port}`;

describe('the swarm without the master', () => {
  it('frontends remember each other\'s bootstrap nodes and meet again with the master down, one restarted or all', async () => {
    const [a, b, c] = cluster.followers as [NodeHandle, NodeHandle, NodeHandle];
    for (const n of cluster.followers) {
      const cfg = JSON.parse(await readFile(n.config, 'utf8')) as { network: { bootstrap: string[] } };
      expect(cfg.network.bootstrap).toEqual([bootstrapOf(cluster.publisher)]);
    }
    await cluster.waitFor('each frontend to remember the others\' bootstrap nodes', async () => {
      for (const n of cluster.followers) {
        const known = await remembered(n);
        if (!cluster.followers.filter((o) => o !== n).every((o) => known.includes(bootstrapOf(o)))) return false;
      }
      return true;
    }, 30_000);
    expect(await remembered(a)).not.toContain(bootstrapOf(a));

    await Promise.all([cluster.stop(cluster.publisher), cluster.stop(c)]);
    cluster.start(c);
    await cluster.waitFor('the restarted frontend to find the other two', async () => (await peersOf(c)) >= 2, 30_000);

    await Promise.all(cluster.followers.map((n) => cluster.stop(n)));
    for (const n of cluster.followers) cluster.start(n);
    await cluster.waitFor('all three, restarted at once, to find each other', async () => {
      for (const n of [a, b, c]) if ((await peersOf(n)) < 2) return false;
      return true;
    }, 30_000);
    for (const n of cluster.followers) expect((await cluster.status(n))!.problems).toEqual([]);
  }, 120_000);
});
