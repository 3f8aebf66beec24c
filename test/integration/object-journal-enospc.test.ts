/**
 * Object records are written many per write(), at the end of the event loop's turn or before a
 * syncfs: a write that fails (a full disk) must still reach the caller, and the objects it lost
 * must not look stored; a compaction with no room loses nothing. On a tmpfs of 1 MiB, mounted by
 * the test (root), else skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ObjectStore, syncFilesystem } from '../../src/store/index.js';
import type { ObjectHash } from '../../src/core/index.js';
import type { TreeObject } from '../../src/manifest/index.js';
import { mountSmallTmpfs, type SmallTmpfs } from '../support/tmpfs.js';

let dir: string;
let mnt: string;
let fs: SmallTmpfs;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-journal-enospc-'));
  mnt = join(dir, 'mnt');
  fs = await mountSmallTmpfs(mnt, '1m', 'journal ENOSPC test');
});

afterAll(async () => {
  fs.unmount();
  await rm(dir, { recursive: true, force: true });
});

/** ~10 KB encoded: its record needs pages of its own, which a full tmpfs cannot give. */
const tree = (n: number): TreeObject => ({
  kind: 'tree',
  entries: Array.from({ length: 40 }, (_, i) => ({ name: `link-${String(i).padStart(3, '0')}`, type: 'symlink' as const, mode: 0o777, mtime: n, target: 'x'.repeat(200) })),
});

/** A store in `name` on the small tmpfs with one object written and synced, then the rest of the file system taken. */
async function storeOnFullDisk(ctx: { skip(): void }, name: string): Promise<{ store: ObjectStore; objects: string; kept: ObjectHash }> {
  if (!fs.mounted) {
    console.warn(fs.reason);
    ctx.skip();
  }
  const objects = join(mnt, name);
  const store = new ObjectStore(objects);
  const kept = await store.put(tree(0));
  await syncFilesystem(mnt);
  await writeFile(join(mnt, 'filler'), Buffer.alloc(1024 * 1024)).catch(() => undefined);
  return { store, objects, kept };
}

describe('object journal on a full disk', () => {
  it('reports the failed write to the next caller and forgets the objects it lost, then stores again once there is room', async (ctx) => {
    const { store, objects, kept } = await storeOnFullDisk(ctx, 'objects');
    const lost = await store.put(tree(1)); // pending: no error yet
    expect(store.has(lost)).toBe(true);
    await nextTurn(); // the deferred write fails here
    expect(store.has(lost)).toBe(false);
    await expect(store.put(tree(2))).rejects.toMatchObject({ code: 'E_NO_SPACE' });
    expect(await new ObjectStore(objects).has(lost)).toBe(false);
    expect(await new ObjectStore(objects).getTree(kept)).toEqual(tree(0));

    await rm(join(mnt, 'filler'));
    expect(await store.put(tree(1))).toBe(lost);
    await syncFilesystem(mnt);
    expect(await new ObjectStore(objects).getTree(lost)).toEqual(tree(1));
  });

  it('makes syncFilesystem fail when the records it must write have no room', async (ctx) => {
    const { store } = await storeOnFullDisk(ctx, 'objects-2');
    await store.put(tree(11));
    await expect(syncFilesystem(mnt)).rejects.toMatchObject({ code: 'E_NO_SPACE' });
    await rm(join(mnt, 'filler'));
  });

  it('fails a compaction that has no room with E_NO_SPACE, leaving the journals as they were, and compacts once there is room', async (ctx) => {
    if (!fs.mounted) {
      console.warn(fs.reason);
      ctx.skip();
    }
    const objects = join(mnt, 'objects-3');
    const store = new ObjectStore(objects);
    const hashes: ObjectHash[] = [];
    for (const n of [20, 21, 22, 23]) hashes.push(await store.put(tree(n)));
    await syncFilesystem(mnt);
    const journals = await readdir(join(objects, 'journal'));
    await writeFile(join(mnt, 'filler'), Buffer.alloc(1024 * 1024)).catch(() => undefined);
    expect(() => store.compact(new Set(hashes.slice(0, 3)))).toThrow(expect.objectContaining({ code: 'E_NO_SPACE', message: expect.stringMatching(/compacting the object journals/) }));
    expect(await readdir(join(objects, 'journal'))).toEqual(journals);
    for (const [i, h] of hashes.entries()) expect(await new ObjectStore(objects).getTree(h)).toEqual(tree(20 + i));

    await rm(join(mnt, 'filler'));
    expect(store.compact(new Set(hashes.slice(0, 3)))).toMatchObject({ kept: 3, dropped: 1 });
    const after = new ObjectStore(objects);
    for (const [i, h] of hashes.slice(0, 3).entries()) expect(await after.getTree(h)).toEqual(tree(20 + i));
    expect(await after.getBytes(hashes[3]!)).toBeNull();
  });
});
