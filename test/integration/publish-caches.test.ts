/**
 * The master's `serve` publishes again and again in one process: it keeps the source's stat cache
 * in memory from one publish to the next, and lends publish its own inode cache, so that what one
 * publish learnt is neither read back from disk nor saved over by a second copy, and holds none
 * of the files a publish opened once it is over.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstat, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openFdsUnder } from '../support/open-fds.js';
import { settle } from '../support/tree.js';
import { publishedCluster, type Cluster } from './deploy-fixture.js';
import { loadConfig } from '../../src/config/index.js';
import { publish, type PublishCaches } from '../../src/admin/index.js';
import { InodeCache, ObjectStore, type StatCache } from '../../src/store/index.js';
import { walkTree } from '../../src/manifest/index.js';

let dir: string;
let src: string;
let c: Cluster;

beforeEach(async () => {
  ({ dir, src, c } = await publishedCluster('cs-publish-caches-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('publish with the caches of a running node', () => {
  it('hashes only what changed even when its stat cache file is gone, and its inode cache vouches for the files it wrote', async () => {
    const config = await loadConfig(c.pub);
    const caches: PublishCaches = { inodes: InodeCache.memory(), sources: new Map<string, StatCache>() };
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 3\n');
    await settle();
    const first = await publish({ config, source: src, caches });
    expect(first.version).toBe(2);
    expect(first.hashedFiles).toBe(1);

    await rm(join(c.pubData, 'stat-cache'), { recursive: true, force: true });
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 2\n');
    await settle();
    const second = await publish({ config, source: src, caches });
    expect(second.version).toBe(3);
    expect(second.hashedFiles).toBe(1);
    const written = await lstat(join(c.pubData, 'releases/3/etc/app.conf'));
    expect(caches.inodes.hashOf(written)).not.toBeNull();

    // The same publish without the kept cache reads the source again: every file is hashed.
    await rm(join(c.pubData, 'stat-cache'), { recursive: true, force: true });
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 1\n');
    await settle();
    const cold = await publish({ config, source: src, caches: { inodes: caches.inodes, sources: new Map() } });
    expect(cold.hashedFiles).toBeGreaterThanOrEqual(5);
  });

  it("writes through the node's object store, which then holds every object of the release without reading it back", async () => {
    const config = await loadConfig(c.pub);
    const objects = new ObjectStore(join(c.pubData, 'objects'));
    try {
      await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 3\n');
      await settle();
      const { version, root } = await publish({ config, source: src, caches: { inodes: InodeCache.memory(), sources: new Map(), objects } });
      expect(version).toBe(2);
      // With the objects on disk gone, only what the store holds in memory can answer.
      await rename(join(c.pubData, 'objects'), join(dir, 'objects-away'));
      let files = 0;
      await walkTree(root, (h) => objects.getTree(h), async (_path, e) => {
        if (e.type === 'file') files += (await objects.getFile(e.hash!)).size >= 0 ? 1 : 0;
      });
      expect(files).toBeGreaterThanOrEqual(5);
    } finally {
      objects.close();
    }
  });

  it('leaves no object journal open once a publish is over (serve runs one after another)', async () => {
    const config = await loadConfig(c.pub);
    for (const n of [1, 2, 3]) {
      await writeFile(join(src, 'etc/app.conf'), `listen 80\nworkers ${n}\n`);
      await settle();
      expect((await publish({ config, source: src })).version).toBe(n + 1);
      expect(openFdsUnder(join(c.pubData, 'objects'))).toEqual([]);
    }
  });
});
