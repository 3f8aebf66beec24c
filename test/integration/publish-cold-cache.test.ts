/**
 * A publisher whose stat cache vouches for nothing (the source moved or was restored, a
 * `chmod -R`, the cache lost) hashes every file again; it must not copy every one of them too
 * when the previous release holds the same content (42 s instead of 3 s at 50,000 files).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { hashChanged } from '../../src/admin/hash-changed.js';
import { scanSource } from '../../src/admin/scan-source.js';
import { ObjectStore, ReleaseStore, StatCache } from '../../src/store/index.js';
import { walkTree } from '../../src/manifest/index.js';
import type { PublishSummary } from '../../src/index.js';
import { settle } from '../support/tree.js';
import { csJson, publishedCluster, type Cluster } from './deploy-fixture.js';

let dir: string;
let src: string;
let c: Cluster;

beforeEach(async () => {
  ({ dir, src, c } = await publishedCluster('cs-publish-cold-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('publish with a cold stat cache', () => {
  it('hashes every file but copies only those whose content the previous release lacks', async () => {
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 6\n'); // same size, other bytes
    await writeFile(join(src, 'bin/run.sh'), '#!/bin/sh\necho run twice\n'); // another size
    await settle();
    const releases = new ReleaseStore(c.pubData);
    const objects = new ObjectStore(releases.objectsDir);
    const previous = (await releases.head(1)).body.root;
    const staging = await mkdtemp(join(dir, 'staging-'));
    const scan = await scanSource(src);
    const hashed = await hashChanged({
      scan, source: src, staging, objects, cache: new StatCache(null), racyBeforeMs: Infinity, previous,
    });
    expect(hashed.hashedFiles).toBe(scan.files.length - 1); // the hard link's second name is not read
    expect([...hashed.copied].sort()).toEqual(['bin/run.sh', 'etc/app.conf']);
    // The copies hold the new bytes; every other file is known by the previous release's hash.
    expect(await readFile(join(staging, 'etc/app.conf'), 'utf8')).toBe('listen 80\nworkers 6\n');
    const before = new Map<string, string>();
    await walkTree(previous, (h) => objects.getTree(h), (p, e) => void (e.type === 'file' && before.set(p, e.hash!)));
    for (const [p, h] of hashed.fileHashes) {
      if (!hashed.copied.has(p)) expect(h, p).toBe(before.get(p));
      else expect(h, p).not.toBe(before.get(p));
    }

    // Through the CLI, with the cache lost and the source named by another path: the release
    // still has every byte of the source.
    await rm(join(c.pubData, 'stat-cache'), { recursive: true });
    const s = await csJson<PublishSummary>(c.pub, 'publish', relative(process.cwd(), src));
    expect(s.version).toBe(2);
    expect(s.hashedFiles).toBe(scan.files.length - 1);
    for (const p of ['etc/app.conf', 'bin/run.sh', 'data/medium.bin']) {
      // equals(), not toEqual(): a deep comparison walks a large Buffer byte by byte, for seconds.
      expect((await readFile(join(c.pubData, 'releases/2', p))).equals(await readFile(join(src, p))), p).toBe(true);
    }
    // The same source by its absolute path: the cache from the relative one vouches for it.
    await settle();
    await writeFile(join(src, 'empty'), 'x');
    await settle();
    expect((await csJson<PublishSummary>(c.pub, 'publish', src)).hashedFiles).toBe(1);
  });
});
