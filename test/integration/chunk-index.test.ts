/**
 * The chunk index holds a location per chunk for at most two releases at once (a node keeps
 * `releases.keep` of them, an upgraded publisher every one it made, and indexing each one it ever
 * read from grew without end). Forgetting a release must not lose what it alone holds: a lookup
 * indexes it again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstat, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ChunkIndex } from '../../src/store/index.js';
import { pseudoRandom } from '../support/tree.js';
import { Craft } from './deploy-craft.js';

let k: Craft;

beforeEach(async () => {
  k = await Craft.create('cs-chunk-index-');
});

afterEach(async () => {
  await rm(k.dir, { recursive: true, force: true });
});

describe('chunk index', () => {
  it('serves chunks held only by releases it forgot, in any order, and still refuses a tampered one', async () => {
    const only: Array<{ hash: string; bytes: Buffer }> = [];
    for (let v = 1; v <= 4; v++) {
      const bytes = pseudoRandom(10_000 + v, v);
      const file = await k.file(`only-${v}.bin`, bytes);
      const release = k.release(v, await k.tree([file]));
      await k.finish(await k.open(release, v === 1 ? null : v - 1));
      await k.releases.saveHead(release);
      only.push({ hash: createHash('sha256').update(bytes).digest('hex'), bytes });
      expect((await k.objects.getFile(file.hash!)).chunks.map((c) => c.hash)).toEqual([only[v - 1]!.hash]);
    }
    const missing: string[] = [];
    const index = new ChunkIndex({ releases: k.releases, objects: k.objects, onMissing: (h, why) => missing.push(`${h}: ${why}`) });
    for (const v of [4, 1, 3, 2, 4, 1, 1, 2]) {
      expect(Buffer.from((await index.readChunk(only[v - 1]!.hash))!).equals(only[v - 1]!.bytes), `release ${v}`).toBe(true);
    }
    const fh = await open(join(k.releases.releasePath(3), 'only-3.bin'), 'r+');
    await fh.write(Buffer.from('TAMPERED'), 0, 8, 100);
    await fh.close();
    expect(await index.readChunk(only[2]!.hash)).toBeNull();
    expect(index.tampered).toBe(1);
    // The warning a sysadmin reads names the file that failed and the releases looked into.
    expect(missing).toEqual([expect.stringMatching(new RegExp(`^${only[2]!.hash}: .*3/only-3\\.bin: edited; retained releases \\[4, 3, 2, 1\\]`))]);
  });
  it('indexes a file that repeats one chunk 20,000 times (a sparse file\'s zeros) in one place, and staging leaves its zeros as holes', async () => {
    const zero = new Uint8Array(64);
    const data = pseudoRandom(4096, 7);
    const parts = [data, ...Array.from({ length: 20_000 }, () => zero), data];
    const file = await k.fileFromChunks('sparse.img', parts);
    const release = k.release(1, await k.tree([file]));
    const path = await k.finish(await k.open(release));
    await k.releases.saveHead(release);
    const abs = join(path, 'sparse.img');
    const st = await lstat(abs);
    expect(st.size).toBe(2 * 4096 + 20_000 * 64);
    // 1.28 MB of zeros written would take ~310 blocks of 4 KiB; the two data chunks take a few.
    expect(st.blocks * 512).toBeLessThan(64 * 1024);
    expect(Buffer.from(await readFile(abs)).equals(Buffer.concat(parts))).toBe(true);
    // Every repeat indexed (a copy of the list per repeat) made a 5 GiB sparse file's release spin
    // its node for minutes.
    const index = new ChunkIndex({ releases: k.releases, objects: k.objects });
    const zeroHash = createHash('sha256').update(zero).digest('hex');
    expect(Buffer.from((await index.readChunk(zeroHash))!).equals(Buffer.from(zero))).toBe(true);
    expect(index.locationCount(zeroHash)).toBe(1);
    expect(Buffer.from((await index.readChunk(createHash('sha256').update(data).digest('hex')))!).equals(Buffer.from(data))).toBe(true);
  });

  it('answers lookups made while a release is being indexed, instead of skipping it half done', async () => {
    const files = [];
    const hashes: string[] = [];
    for (let i = 0; i < 40; i++) {
      const bytes = pseudoRandom(5_000 + i, 100 + i);
      hashes.push(createHash('sha256').update(bytes).digest('hex'));
      files.push(await k.file(`f-${String(i).padStart(2, '0')}.bin`, bytes));
    }
    const release = k.release(1, await k.tree(files));
    await k.finish(await k.open(release));
    await k.releases.saveHead(release);
    // The store's file objects come only once the gate opens: the first lookup's indexing is then
    // under way while the other lookups come, as a peer's requests for a new release's pieces do.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const objects = new Proxy(k.objects, {
      get(target, prop, receiver) {
        if (prop === 'getFile') return async (h: Parameters<typeof target.getFile>[0]) => (await gate, target.getFile(h));
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const index = new ChunkIndex({ releases: k.releases, objects });
    const first = index.readChunk(hashes[0]!);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    const rest = Promise.all(hashes.slice(1).map((h) => index.readChunk(h)));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    open();
    const found = [await first, ...(await rest)];
    expect(found.map((b, i) => (b ? createHash('sha256').update(b).digest('hex') : null) === hashes[i])).toEqual(hashes.map(() => true));
  });

  /** Releases 1..3, each with its own a.bin and b.bin; returns the hashes of the a.bin chunks and release 3's b.bin object. */
  async function threeReleases(): Promise<{ own: string[]; thirdB: string }> {
    const own: string[] = [];
    let thirdB = '';
    for (let v = 1; v <= 3; v++) {
      const a = pseudoRandom(9_000 + v, 20 + v);
      own.push(createHash('sha256').update(a).digest('hex'));
      const files = [await k.file('a.bin', a), await k.file('b.bin', pseudoRandom(9_500 + v, 30 + v))];
      thirdB = files[1]!.hash!;
      const release = k.release(v, await k.tree(files));
      await k.finish(await k.open(release, v === 1 ? null : v - 1));
      await k.releases.saveHead(release);
    }
    return { own, thirdB };
  }

  /** k.objects, with getFile going through `hook` first. */
  function hooked(hook: (h: string) => Promise<void>): typeof k.objects {
    return new Proxy(k.objects, {
      get(target, prop, receiver) {
        if (prop === 'getFile') return async (h: Parameters<typeof target.getFile>[0]) => (await hook(h), target.getFile(h));
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }

  it('indexes a release again after its indexing failed', async () => {
    const { own } = await threeReleases();
    let fail = true;
    const index = new ChunkIndex({
      releases: k.releases,
      objects: hooked(async () => {
        if (fail) throw new Error('object store hiccup');
      }),
    });
    await expect(index.ensureRelease(3)).rejects.toThrow('hiccup');
    fail = false;
    // Nothing of the failed walk may make release 3 count as indexed.
    expect(await index.readChunk(own[2]!)).not.toBeNull();
  });

  it('keeps a release evicted while being indexed whole for the lookup that waits for it', async () => {
    const { own, thirdB } = await threeReleases();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    let gated = false;
    const index = new ChunkIndex({
      releases: k.releases,
      objects: hooked((h) => {
        if (!gated || h !== thirdB) return Promise.resolve();
        reached();
        return gate;
      }),
    });
    await index.ensureRelease(1);
    await index.ensureRelease(2);
    gated = true;
    // Release 3's walk stops at its b.bin, a.bin's location found; meanwhile release 2 is read and
    // release 1 indexed again, which evicts the least recently used release.
    const third = index.readChunk(own[2]!);
    await atGate;
    expect(await index.readChunk(own[1]!)).not.toBeNull();
    await index.ensureRelease(1);
    open();
    expect(await third).not.toBeNull();
    for (const h of own) expect(await index.readChunk(h)).not.toBeNull();
  });

  it('finds a chunk in the release another lookup indexed while this one listed the releases', async () => {
    const { own, thirdB } = await threeReleases();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let gated = false;
    let third: Promise<void> | null = null;
    let index!: ChunkIndex;
    // While the lookup lists the retained releases, release 3's indexing (begun by another lookup)
    // ends, and release 2 is read, which makes release 3 the least recently used of the two held.
    const releases = new Proxy(k.releases, {
      get(target, prop, receiver) {
        if (prop === 'materialized') {
          return async () => {
            if (third) {
              open();
              await third;
              expect(await index.readChunk(own[1]!)).not.toBeNull();
            }
            return target.materialized();
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    index = new ChunkIndex({ releases, objects: hooked((h) => (gated && h === thirdB ? gate : Promise.resolve())) });
    await index.ensureRelease(1);
    await index.ensureRelease(2);
    gated = true;
    third = index.ensureRelease(3);
    const found = await index.readChunk(own[2]!);
    third = null;
    expect(found).not.toBeNull();
  });

  it('keeps the newest release indexed when an older one is indexed', async () => {
    const { own } = await threeReleases();
    let walks = 0;
    const index = new ChunkIndex({ releases: k.releases, objects: hooked(async () => void walks++) });
    await index.ensureRelease(3);
    await index.ensureRelease(2);
    expect(await index.readChunk(own[1]!)).not.toBeNull();
    // Release 3 is now the least recently used; indexing release 1 must forget release 2 instead.
    await index.ensureRelease(1);
    walks = 0;
    expect(await index.readChunk(own[2]!)).not.toBeNull();
    expect(await index.readChunk(own[0]!)).not.toBeNull();
    expect(walks).toBe(0);
  });

  it('finds a chunk in a release it has not indexed when another process removed or recycled the trees it knew', async () => {
    // A file every release shares, and one of each release's own: reading release 1's own indexes 3, 2, 1, keeping 2 and 1.
    const shared = pseudoRandom(12_000, 9);
    const sharedHash = createHash('sha256').update(shared).digest('hex');
    const own: string[] = [];
    for (let v = 1; v <= 3; v++) {
      const bytes = pseudoRandom(11_000 + v, v);
      own.push(createHash('sha256').update(bytes).digest('hex'));
      const release = k.release(v, await k.tree([await k.file(`own-${v}.bin`, bytes), await k.file('shared.bin', shared)]));
      await k.finish(await k.open(release, v === 1 ? null : v - 1));
      await k.releases.saveHead(release);
    }
    const index = new ChunkIndex({ releases: k.releases, objects: k.objects });
    expect(await index.readChunk(own[0]!)).not.toBeNull();
    // What `publish` or `gc` in another process does: release 1's tree becomes staging, release 2's is deleted.
    await rename(k.releases.releasePath(1), join(k.dir, 'recycled'));
    await rm(k.releases.releasePath(2), { recursive: true });
    expect(Buffer.from((await index.readChunk(sharedHash))!).equals(shared)).toBe(true);
    expect(index.tampered).toBe(0);
  });
});
