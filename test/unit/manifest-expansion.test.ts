import { describe, expect, it } from 'vitest';
import { asObjectHash, isChunkswarmError, type ObjectHash } from '../../src/core/index.js';
import { ExpansionMemo, measureExpansion, type FileObject, type TreeEntry, type TreeObject } from '../../src/manifest/index.js';

/** Objects in memory, with a count of loads: each distinct object must be read once. */
function store() {
  const trees = new Map<string, TreeObject>();
  const files = new Map<string, FileObject>();
  const loads = { trees: 0, files: 0 };
  let n = 0;
  const id = () => asObjectHash((++n).toString(16).padStart(64, '0'));
  return {
    loads,
    file(size: number): ObjectHash {
      const h = id();
      files.set(h, { kind: 'file', size, chunks: [] });
      return h;
    },
    tree(entries: TreeEntry[]): ObjectHash {
      const h = id();
      trees.set(h, { kind: 'tree', entries });
      return h;
    },
    loadTree: async (h: ObjectHash) => (loads.trees++, trees.get(h)!),
    loadFile: async (h: ObjectHash) => (loads.files++, files.get(h)!),
  };
}

const entry = (name: string, type: TreeEntry['type'], hash: ObjectHash): TreeEntry => ({ name, type, mode: 0o755, mtime: 0, hash });

/** `levels` levels of `fanout` directories that all name the level below, over one file. */
function sharedLevels(s: ReturnType<typeof store>, levels: number, fanout: number, fileSize = 10) {
  let h = s.tree([entry('f', 'file', s.file(fileSize))]);
  for (let l = 0; l < levels; l++) h = s.tree(Array.from({ length: fanout }, (_, i) => entry(`d${i}`, 'dir', h)));
  return h;
}

describe('measureExpansion', () => {
  it('counts every path, every byte and the depth of the expanded tree, reading each object once', async () => {
    const s = store();
    const root = sharedLevels(s, 3, 4);
    // 4 + 16 + 64 directories, 64 files of 10 bytes, 4 levels deep.
    expect(await measureExpansion(root, s.loadTree, s.loadFile)).toEqual({ paths: 4 + 16 + 64 + 64, bytes: 640, depth: 3 });
    expect(s.loads).toEqual({ trees: 4, files: 1 });
  });

  it('refuses a tree that shares one subtree at every level, from its few objects, with E_TOO_LARGE', async () => {
    const s = store();
    const root = sharedLevels(s, 6, 16);
    const err = await measureExpansion(root, s.loadTree, s.loadFile).catch((e: unknown) => e);
    expect(isChunkswarmError(err, 'E_TOO_LARGE')).toBe(true);
    expect((err as Error).message).toMatch(/path count .* above the limit of 10000000/);
    expect(s.loads.trees).toBe(7);
  });

  it('with a memo, measures only the trees a new release changed, and holds just that release\'s trees', async () => {
    const s = store();
    const leaf = (n: number) => s.tree(Array.from({ length: 5 }, (_, i) => entry(`f${i}`, 'file', s.file(n * 10 + i))));
    const leaves = [1, 2, 3, 4].map(leaf);
    const mid = (from: number) => s.tree(leaves.slice(from, from + 2).map((h, i) => entry(`l${i}`, 'dir', h)));
    const a = s.tree([entry('m0', 'dir', mid(0)), entry('m1', 'dir', mid(2))]);
    const memo = new ExpansionMemo();
    const first = await measureExpansion(a, s.loadTree, s.loadFile, undefined, memo);
    expect(s.loads).toEqual({ trees: 7, files: 20 });
    expect(memo.trees.size).toBe(7);

    // Release b: m0 unchanged, m1's second leaf replaced by a new one.
    const changed = leaf(9);
    const m1 = s.tree([entry('l0', 'dir', leaves[2]!), entry('l1', 'dir', changed)]);
    const b = s.tree([entry('m0', 'dir', mid(0)), entry('m1', 'dir', m1)]);
    s.loads.trees = s.loads.files = 0;
    const second = await measureExpansion(b, s.loadTree, s.loadFile, undefined, memo);
    // b, its new m1 and the new leaf; m0 (a new object with the same content is measured too) read its leaves from the memo.
    expect(s.loads).toEqual({ trees: 4, files: 5 });
    expect(second).toEqual(await measureExpansion(b, s.loadTree, s.loadFile));
    expect(second).toEqual({ ...first, bytes: first.bytes + 5 * (90 - 40) });
    // b's trees only: b, m0, m1, and the leaves 1, 2, 3 and the new one; a's m1, leaf 4 and a are gone.
    expect(memo.trees.size).toBe(7);
    expect(memo.trees.has(a)).toBe(false);

    // A memo never lets a release past limits lower than those it was measured under.
    const err = await measureExpansion(b, s.loadTree, s.loadFile, { maxPaths: 10, maxBytes: 2 ** 40, maxDepth: 10 }, memo).catch((e: unknown) => e);
    expect(isChunkswarmError(err, 'E_TOO_LARGE')).toBe(true);
    expect(memo.trees.has(b)).toBe(true);
  });

  it('enforces the byte and depth limits it is given', async () => {
    const s = store();
    const root = sharedLevels(s, 2, 2, 1000);
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (isChunkswarmError(e) ? `${e.code} ${e.message}` : String(e)));
    expect(await code(measureExpansion(root, s.loadTree, s.loadFile, { maxPaths: 100, maxBytes: 3999, maxDepth: 10 }))).toMatch(/^E_TOO_LARGE .*size in bytes/);
    expect(await code(measureExpansion(root, s.loadTree, s.loadFile, { maxPaths: 100, maxBytes: 4000, maxDepth: 1 }))).toMatch(/^E_TOO_LARGE .*depth is 2/);
    expect(await code(measureExpansion(root, s.loadTree, s.loadFile, { maxPaths: 10, maxBytes: 4000, maxDepth: 2 }))).toBe('ok');
  });
});
