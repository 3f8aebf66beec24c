/**
 * Bad input, releases a node must not expand: a signed release whose tree objects share one
 * subtree at every level (8 small objects, 16^6 = 16.8 million paths) is refused with E_TOO_LARGE
 * from its objects alone; the node keeps serving, its status stays fresh, and the next good
 * release goes live.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { clusterIdOf, signRelease, type TreeEntry } from '../../src/manifest/index.js';
import { ObjectStore, ReleaseStore } from '../../src/store/index.js';
import { settle } from '../support/tree.js';
import { bytesLost, startPublisher } from './harness.js';
import { declareCases } from './record.js';

let dir: string | undefined;
let cluster: LocalCluster | undefined;

afterAll(async () => {
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const T = Date.UTC(2024, 0, 1);

describe('bad input: a release that expands to millions of paths', () => {
  it('is refused with E_TOO_LARGE before expansion; the followers keep serving and take the next good release', async (ctx) => {
    declareCases(ctx, { kind: 'bad-input', group: 'releases', tried: 1 });
    dir = await mkdtemp(join(tmpdir(), 'cs-fault-bomb-'));
    const source = join(dir, 'source');
    await generateTree(source, { bytes: 1024 * 1024, files: 8, perDir: 4, seed: 5 });
    const c = await LocalCluster.create({ dir, followers: 2, extra: { verify: { intervalSec: 0 } } });
    cluster = c;
    await c.publish(source);
    await startPublisher(c);
    for (const f of c.followers) c.start(f);
    await c.waitLive(c.followers, 1);

    // What a compromised publisher could sign: each level's 16 entries all name the level below.
    const releases = new ReleaseStore(c.publisher.dataDir);
    const objects = new ObjectStore(releases.objectsDir);
    const leaf: TreeEntry = { name: 'f', type: 'file', mode: 0o644, mtime: T, hash: await objects.put({ kind: 'file', size: 0, chunks: [] }) };
    let level = await objects.put({ kind: 'tree', entries: [leaf] });
    for (let depth = 0; depth < 6; depth++) {
      const entries: TreeEntry[] = Array.from({ length: 16 }, (_, i) => ({ name: `d${i.toString(16)}`, type: 'dir', mode: 0o755, mtime: T, hash: level }));
      level = await objects.put({ kind: 'tree', entries });
    }
    const cfg = JSON.parse(await readFile(c.publisher.config, 'utf8')) as { cluster: { publisherKey: string } };
    const key = Buffer.from(cfg.cluster.publisherKey, 'hex');
    const pem = await readFile(join(c.publisher.dir, 'publisher.key'), 'utf8');
    await releases.saveHead(signRelease({ kind: 'release', cluster: clusterIdOf(key), version: 2, root: level, parent: null, created: T, note: 'bomb' }, pem, key));

    await c.waitFor('both followers to refuse release 2 with E_TOO_LARGE', async () => {
      const all = await Promise.all(c.followers.map((f) => c.status(f)));
      return all.every((s) => s?.lastError?.code === 'E_TOO_LARGE' && s.live === 1);
    }, 30_000);
    const st = (await c.status(c.followers[0]!))!;
    expect(st.lastError!.message).toMatch(/path count .* above the limit of 10000000/);
    expect(Date.now() - Date.parse(st.updated)).toBeLessThan(5000);

    await writeFile(join(source, 'fixed.txt'), 'release 3\n');
    await settle();
    // Against the bomb's millions of paths the good tree is a shrink: the publish says so (at once,
    // without expanding the bomb) and goes ahead when told.
    await expect(c.publish(source)).rejects.toThrow(/holds 9 files and release 2 more than 100000: publishing it would remove at least 100000 files/);
    await c.publish(source, ['--allow-shrink']);
    await c.waitLive(c.followers, 3, 60_000);
    // The attempt that made release 3 live ends, and clears the error, a moment after the switch.
    await c.waitFor('both followers to report no error', async () => (await Promise.all(c.followers.map((f) => c.status(f)))).every((s) => s?.lastError === null), 10_000);
    for (const f of c.followers) {
      expect(await bytesLost(source, f.live)).toBe(0);
      expect((await c.status(f))!.lastError).toBeNull();
    }
  }, 120_000);
});
