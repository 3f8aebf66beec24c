import { describe, expect, it } from 'vitest';
import { saveReleasePacks, servedPieces, treePackName } from '../../src/deploy/release-files.js';
import { releasePieces, type FileObject, type TreeEntry } from '../../src/manifest/index.js';
import { ObjectStore } from '../../src/store/index.js';
import type { ChunkHash, ObjectHash } from '../../src/core/index.js';
import { tempDirs } from '../support/temp-dirs.js';

const tempDir = tempDirs();

const fileOf = (n: number): FileObject => ({ kind: 'file', size: n * 1000, chunks: [{ hash: n.toString(16).padStart(64, '0') as ChunkHash, size: n * 1000 }] });

/** A release of files numbered `ns`: the first in a subdirectory, the rest at the top. */
async function release(store: ObjectStore, ns: number[]): Promise<ObjectHash> {
  const entry = async (n: number): Promise<TreeEntry> => ({ name: `f${String(n).padStart(3, '0')}`, type: 'file', mode: 0o644, mtime: 0, hash: await store.put(fileOf(n)) });
  const sub = await store.put({ kind: 'tree', entries: [await entry(ns[0]!)] });
  const top = await Promise.all(ns.slice(1).map(entry));
  return store.put({ kind: 'tree', entries: [{ name: 'd', type: 'dir', mode: 0o755, mtime: 0, hash: sub }, ...top] });
}

const piecesOf = (store: ObjectStore, root: ObjectHash) => releasePieces(root, (h) => store.getTree(h), (h) => store.getFile(h));

describe('the packs of a release served whole (servedPieces, saveReleasePacks)', () => {
  it('are made from the objects in memory, read back in place of single objects, and copy what an earlier release shares', async () => {
    const dir = await tempDir('cs-served-');
    const store = new ObjectStore(dir);
    const r1 = await release(store, [1, 2, 3, 4]);
    const first = await servedPieces(store, r1);
    expect(first.packed).toBe(false);
    expect(first.pieces).toEqual(await piecesOf(new ObjectStore(dir), r1));

    await saveReleasePacks(store, r1, null);
    expect(store.packs().sort()).toEqual([r1, treePackName(r1)].sort());
    const restarted = new ObjectStore(dir);
    const again = await servedPieces(restarted, r1);
    expect(again.packed).toBe(true);
    expect(again.pieces).toEqual(first.pieces);

    // The next release shares three files: their records come from r1's pack, the new one is encoded.
    const r2 = await release(store, [1, 2, 3, 5]);
    await servedPieces(store, r2);
    await saveReleasePacks(store, r2, r1);
    const later = new ObjectStore(dir);
    expect(later.loadPack(r2)).toBe(4);
    expect(later.loadPack(treePackName(r2))).toBe(2);
    expect((await servedPieces(later, r2)).pieces).toEqual(await piecesOf(new ObjectStore(dir), r2));
  });
});
