/**
 * The publisher copies and hashes small files on worker threads beside its main one
 * (publisher.copyThreads, src/admin/copy-workers.ts). What it publishes must not depend on it:
 * the same hashes, the same copies, the same refusals. The worker threads run the built modules
 * (dist/), as `serve` and `publish` do: a worker cannot load TypeScript.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { hashChanged as HashChanged } from '../../src/admin/hash-changed.js';
import type { copySmallFiles as CopySmallFiles } from '../../src/admin/copy-workers.js';
import { scanSource } from '../../src/admin/scan-source.js';
import { ObjectStore, ReleaseStore, StatCache } from '../../src/store/index.js';
import type { PublishSummary } from '../../src/index.js';
import type { ObjectHash } from '../../src/core/index.js';
import { settle } from '../support/tree.js';
import { contentHash, csJson, editConfig, publishedCluster, releaseEntries, type Cluster } from './deploy-fixture.js';

const built = (path: string) => import(pathToFileURL(resolve('dist/src', path)).href);
const { hashChanged } = (await built('admin/hash-changed.js')) as { hashChanged: typeof HashChanged };
const { copySmallFiles } = (await built('admin/copy-workers.js')) as { copySmallFiles: typeof CopySmallFiles };

let dir: string;
let src: string;
let c: Cluster;

beforeAll(async () => {
  ({ dir, src, c } = await publishedCluster('cs-publish-threads-'));
  // Enough small files in enough directories for every thread to take several batches.
  for (let d = 0; d < 12; d++) {
    await mkdir(join(src, `www/site-${d}`), { recursive: true });
    for (let f = 0; f < 60; f++) await writeFile(join(src, `www/site-${d}/page-${f}.html`), `<p>site ${d} page ${f}</p>\n`.repeat((f * 37) % 200));
  }
  await writeFile(join(src, 'www/big.bin'), Buffer.alloc(1536 * 1024, 7)); // over 1 MiB: the main thread's way
  await settle();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function hashInto(threads: number, cache = new StatCache(null), previous: ObjectHash | null = null) {
  const staging = await mkdtemp(join(dir, `staging-${threads}-`));
  const objects = new ObjectStore(new ReleaseStore(c.pubData).objectsDir);
  const hashed = await hashChanged({ scan: await scanSource(src), source: src, staging, objects, cache, racyBeforeMs: Infinity, previous, copyThreads: threads });
  return { staging, hashed };
}

describe('publishing with copy threads', () => {
  it('hashes and copies every file as the main thread alone does', async () => {
    const alone = await hashInto(0);
    const shared = await hashInto(2);
    expect(shared.hashed.hashedFiles).toBe(alone.hashed.hashedFiles);
    expect(shared.hashed.hashedFiles).toBeGreaterThan(720);
    expect(new Map(shared.hashed.fileHashes)).toEqual(new Map(alone.hashed.fileHashes));
    expect([...shared.hashed.copied].sort()).toEqual([...alone.hashed.copied].sort());
    for (const p of ['www/site-3/page-17.html', 'www/site-11/page-59.html', 'www/big.bin', 'etc/app.conf']) {
      expect((await readFile(join(shared.staging, p))).equals(await readFile(join(src, p))), p).toBe(true);
    }
  });

  it('copies only what the previous release lacks, with a cold stat cache', async () => {
    const previous = (await new ReleaseStore(c.pubData).head(1)).body.root;
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 6\n'); // same size, other bytes
    await settle();
    const { staging, hashed } = await hashInto(2, new StatCache(null), previous);
    // The new pages and the changed file; the sample tree's other files are the previous release's.
    expect(hashed.copied.has('etc/app.conf')).toBe(true);
    expect(hashed.copied.has('bin/run.sh')).toBe(false);
    expect(await readFile(join(staging, 'etc/app.conf'), 'utf8')).toBe('listen 80\nworkers 6\n');
    const before = await releaseEntries(c.pubData, 1);
    for (const [p, e] of before) if (e.type === 'file' && p !== 'etc/app.conf') expect(hashed.fileHashes.get(p), p).toBe(e.hash);
  });

  // Fewer jobs than a batch: the worker thread takes them all.
  it("names the file and the cause when a worker thread's copy fails", async () => {
    const jobs = [
      { src: join(src, 'www/site-0/page-1.html'), dest: join(dir, 'a.html'), displayPath: 'www/site-0/page-1.html', previous: null },
      { src: join(src, 'www/gone.html'), dest: join(dir, 'b.html'), displayPath: 'www/gone.html', previous: null },
    ];
    const seen: number[] = [];
    const err = await copySmallFiles(jobs, 1, async (i) => void seen.push(i)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringContaining('www/gone.html') });
    expect(seen).toEqual([0]);
  });

  it('stops every thread at a failure to record a file, and records nothing after it', async () => {
    const jobs = Array.from({ length: 600 }, (_, k) => ({
      src: join(src, `www/site-${k % 12}/page-${Math.floor(k / 12)}.html`), dest: join(dir, `r-${k}.html`), displayPath: `page ${k}`, previous: null,
    }));
    let calls = 0;
    // The worker thread's first batch is files 0-127: it fails there, while the main thread copies its own.
    const err = await copySmallFiles(jobs, 1, async (k) => {
      calls++;
      if (k < 128) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
      await new Promise((r) => setTimeout(r, 5)); // the main thread's files are recorded slowly: still at it when the worker's fail
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NO_SPACE' });
    const after = calls;
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(after);
    expect(calls).toBeLessThan(140);
  });

  it('tells a file grown past the small size apart, for the large files\' way', async () => {
    await writeFile(join(src, 'www/grown.bin'), Buffer.alloc(2 * 1024 * 1024, 1));
    const outcomes: Array<boolean | null> = [];
    await copySmallFiles([{ src: join(src, 'www/grown.bin'), dest: join(dir, 'g.bin'), displayPath: 'www/grown.bin', previous: null }], 1, async (_i, done) => void outcomes.push(done && done.copied));
    expect(outcomes).toEqual([null]);
  });

  it('publishes through the CLI with publisher.copyThreads, every file as in the source', async () => {
    await editConfig(c.pub, (cfg) => void (cfg.publisher.copyThreads = 2));
    const s = await csJson<PublishSummary>(c.pub, 'publish', src);
    expect(s.version).toBe(2);
    const entries = await releaseEntries(c.pubData, 2);
    for (const p of ['www/site-0/page-0.html', 'www/site-5/page-42.html', 'www/big.bin', 'etc/app.conf']) {
      expect(entries.get(p)?.hash, p).toBe(await contentHash(join(src, p)));
    }
    expect([...entries.values()].filter((e) => e.type === 'file').length).toBeGreaterThan(720);
  });
});
