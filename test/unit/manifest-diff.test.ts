import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  comparePaths,
  compareNames,
  decodeObject,
  diffTrees,
  encodeObject,
  objectHash,
  releasePieces,
  releaseChunks,
  walkTree,
  type FileObject,
  type TreeEntry,
  type TreeObject,
} from '../../src/manifest/index.js';
import { asChunkHash, type ObjectHash } from '../../src/core/index.js';

/** A content-addressed in-memory object store that counts loads, built from real encodings. */
class Store {
  readonly objects = new Map<string, Uint8Array>();
  readonly loaded: string[] = [];

  put(o: TreeObject | FileObject): ObjectHash {
    const enc = encodeObject(o);
    const h = objectHash(enc);
    this.objects.set(h, enc);
    return h;
  }

  loadTree = async (h: ObjectHash): Promise<TreeObject> => {
    this.loaded.push(h);
    const o = decodeObject(this.objects.get(h)!);
    if (o.kind !== 'tree') throw new Error(`${h} is not a tree`);
    return o;
  };

  loadFile = async (h: ObjectHash): Promise<FileObject> => {
    const o = decodeObject(this.objects.get(h)!);
    if (o.kind !== 'file') throw new Error(`${h} is not a file`);
    return o;
  };
}

type Spec = { [name: string]: string | Spec | { link: string } | { meta: Partial<TreeEntry>; of: string | Spec } };

/** Builds a tree from a nested spec: string = file content, object = dir, {link} = symlink, {meta, of} = overrides. */
function build(store: Store, spec: Spec): ObjectHash {
  const entries: TreeEntry[] = Object.entries(spec).map(([name, v]) => {
    let meta: Partial<TreeEntry> = {};
    if (typeof v === 'object' && 'meta' in v) {
      meta = v.meta as Partial<TreeEntry>;
      v = v.of as string | Spec;
    }
    const base = { name, mode: 0o644, mtime: 1000 };
    if (typeof v === 'string') return { ...base, type: 'file', hash: store.put(fileOf(v)), ...meta };
    if ('link' in v && typeof v.link === 'string') return { ...base, type: 'symlink', mode: 0o777, target: v.link, ...meta };
    return { ...base, type: 'dir', mode: 0o755, hash: build(store, v as Spec), ...meta };
  });
  entries.sort((a, b) => compareNames(a.name, b.name));
  return store.put({ kind: 'tree', entries });
}

/** File content "a|b|c" becomes three 1-byte-named chunks, so chunk sharing is easy to write down. */
function fileOf(content: string): FileObject {
  const parts = content === '' ? [] : content.split('|');
  return {
    kind: 'file',
    size: parts.reduce((s, p) => s + p.length, 0),
    chunks: parts.map((p) => ({ hash: chunk(p), size: p.length })),
  };
}
const chunk = (p: string) => asChunkHash(createHash('sha256').update(p).digest('hex'));

const summary = (changes: Awaited<ReturnType<typeof diffTrees>>) => changes.map((c) => `${c.change} ${c.path}`);

describe('diffTrees', () => {
  const unchanged: Spec = { deep: { deeper: { f1: 'x', f2: 'y' }, g: 'z' }, h: 'w' };
  const before: Spec = {
    'a.txt': 'one',
    same: unchanged,
    dir: { 'x.txt': 'x', sub: { 'deep.txt': 'deep' }, keep: { k: 'k' } },
    ln: { link: 'a.txt' },
    'meta.txt': 'm',
    gone: { g1: 'g', g2: { g3: 'g' } },
    becomes: 'file',
    old: 'o',
  };
  const after: Spec = {
    'a.txt': 'one!',
    same: unchanged,
    dir: { 'x.txt': 'x', sub: { 'deep.txt': 'deeper', 'new.txt': 'n' }, keep: { k: 'k' } },
    ln: { link: 'b.txt' },
    'meta.txt': { meta: { mode: 0o600 }, of: 'm' },
    becomes: { inner: 'i', nested: { leaf: 'l' } },
    fresh: { f: { ff: 'f' } },
    old: { meta: { uid: 0, gid: 0 }, of: 'o' },
  };

  it('reports added, removed, modified and meta changes in canonical order', async () => {
    const store = new Store();
    const changes = await diffTrees(build(store, before), build(store, after), store.loadTree);
    expect(summary(changes)).toEqual([
      'modified a.txt',
      'modified becomes',
      'added becomes/inner',
      'added becomes/nested',
      'added becomes/nested/leaf',
      'modified dir/sub/deep.txt',
      'added dir/sub/new.txt',
      'added fresh',
      'added fresh/f',
      'added fresh/f/ff',
      'removed gone',
      'removed gone/g1',
      'removed gone/g2',
      'removed gone/g2/g3',
      'modified ln',
      'meta meta.txt',
      'meta old',
    ]);
    expect(changes.map((c) => c.path)).toEqual(changes.map((c) => c.path).sort(comparePaths));
    const modified = changes.find((c) => c.path === 'ln')!;
    expect([modified.old?.target, modified.new?.target]).toEqual(['a.txt', 'b.txt']);
    expect(changes.find((c) => c.path === 'fresh')).toMatchObject({ new: { type: 'dir' } });
    expect(changes.find((c) => c.path === 'fresh')).not.toHaveProperty('old');
    expect(changes.find((c) => c.path === 'gone/g1')).not.toHaveProperty('new');
  });

  it('never loads subtrees whose hashes did not change', async () => {
    const store = new Store();
    const oldRoot = build(store, before);
    const newRoot = build(store, after);
    const sameHash = build(store, unchanged);
    const keepHash = build(store, { k: 'k' });
    await diffTrees(oldRoot, newRoot, store.loadTree);
    expect(store.loaded).not.toContain(sameHash);
    expect(store.loaded).not.toContain(keepHash);
    // Old and new root, dir and dir/sub (both sides each), becomes + becomes/nested, fresh + fresh/f, gone + gone/g2.
    expect(store.loaded).toHaveLength(12);
  });

  it('lists a whole new tree as added when there is no old root, and nothing for equal roots', async () => {
    const store = new Store();
    const root = build(store, before);
    const all = await diffTrees(null, root, store.loadTree);
    expect(all.every((c) => c.change === 'added')).toBe(true);
    const walked: string[] = [];
    await walkTree(root, store.loadTree, (p) => {
      walked.push(p);
    });
    expect(all.map((c) => c.path)).toEqual(walked);
    store.loaded.length = 0;
    expect(await diffTrees(root, root, store.loadTree)).toEqual([]);
    expect(store.loaded).toEqual([]);
  });

  it('treats a file turned symlink as modified and a dir turned file as modified plus removals', async () => {
    const store = new Store();
    const a = build(store, { x: 'data', d: { in: 'i' } });
    const b = build(store, { x: { link: 'y' }, d: 'now a file' });
    expect(summary(await diffTrees(a, b, store.loadTree))).toEqual(['modified d', 'removed d/in', 'modified x']);
  });
});

describe('walkTree, releaseChunks and releasePieces', () => {
  it('walks depth-first in name order', async () => {
    const store = new Store();
    const root = build(store, { b: 'x', a: { z: 'x', c: { d: 'x' } }, 'a.txt': 'x' });
    const paths: string[] = [];
    await walkTree(root, store.loadTree, async (p) => {
      paths.push(p);
    });
    expect(paths).toEqual(['a', 'a/c', 'a/c/d', 'a/z', 'a.txt', 'b']);
  });

  it('lists unique chunks at their first occurrence in canonical order', async () => {
    const store = new Store();
    const root = build(store, {
      b: 'p|q|r',
      a: { dup: 'q|s', twin: 'q|s', empty: '' },
      c: { link: 'b' },
      d: 'r|t|p|u',
    });
    const chunks = await releaseChunks(root, store.loadTree, store.loadFile);
    expect(chunks).toEqual(['q', 's', 'p', 'r', 't', 'u'].map((p) => ({ hash: chunk(p), size: 1 })));
    // Small chunks are grouped into runs: here all six make one piece.
    expect(await releasePieces(root, store.loadTree, store.loadFile)).toEqual([{ size: 6, chunks }]);
  });
});
