import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { DonorTable, layoutPieces, planFiles, type FileAction, type PieceLayout, type ReleaseFile } from '../../src/deploy/index.js';
import { asChunkHash, asObjectHash, isChunkswarmError } from '../../src/core/index.js';
import { groupPieces, pieceTarget, PIECE_MAX, PIECE_MIN, type ChunkRef, type FileObject, type TreeEntry } from '../../src/manifest/index.js';

const h = (s: string) => createHash('sha256').update(s).digest('hex');
const chunk = (name: string, size = 100): ChunkRef => ({ hash: asChunkHash(h(`chunk ${name}`)), size });
const fileOf = (...chunks: ChunkRef[]): FileObject => ({ kind: 'file', size: chunks.reduce((n, c) => n + c.size, 0), chunks });
const objHash = (f: FileObject) => asObjectHash(h(JSON.stringify(f)));

function releaseFile(path: string, file: FileObject, meta: Partial<TreeEntry> = {}): ReleaseFile {
  const entry: TreeEntry = { name: path.split('/').pop()!, type: 'file', mode: 0o644, mtime: 1_000, hash: objHash(file), ...meta };
  return { path, entry, size: file.size, file };
}

/** Donors in release 1's tree for some of `files`, by path: the donor's path there and its inode, "dev:ino". */
function donors(files: readonly ReleaseFile[], byPath: Record<string, [from: string, inode: string]> = {}): DonorTable {
  const t = new DonorTable(files);
  files.forEach((f, i) => {
    const d = byPath[f.path];
    if (!d) return;
    const [dev, ino] = d[1].split(':').map(Number) as [number, number];
    t.set(i, '/data/releases/1', { dev, ino, size: f.file.size, mtimeMs: f.entry.mtime }, { path: d[0], linked: true });
  });
  return t;
}

/** The release's distinct chunks in file order, as releaseChunks lists them. */
function chunksOf(files: ReleaseFile[]): ChunkRef[] {
  const seen = new Set<string>();
  const out: ChunkRef[] = [];
  for (const f of files) for (const c of f.file.chunks) if (!seen.has(c.hash)) (seen.add(c.hash), out.push(c));
  return out;
}

function layout(files: ReleaseFile[], actions: FileAction[], local: Map<string, { path: string; offset: number }> = new Map()) {
  const chunks = chunksOf(files);
  return layoutPieces({ actions, files, chunks, pieces: chunks.map((c) => ({ size: c.size, chunks: [c] })), local });
}

const states = (l: PieceLayout, n: number) => Array.from({ length: n }, (_, i) => l.state(i));
const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => chunk(n)) as [ChunkRef, ChunkRef, ChunkRef, ChunkRef];

describe('planFiles', () => {
  it('links a path that has a clean donor and writes the rest', () => {
    const same = releaseFile('etc/app.conf', fileOf(a));
    const changed = releaseFile('data/x.bin', fileOf(b, c));
    const actions = planFiles([same, changed], donors([same, changed], { 'etc/app.conf': ['etc/app.conf', '1:10'] }));
    expect(actions.map((f) => [f.path, f.kind])).toEqual([['etc/app.conf', 'link'], ['data/x.bin', 'write']]);
    expect(actions[0]).toMatchObject({ from: '/data/releases/1/etc/app.conf', inode: '1:10' });
  });

  it('lends one inode to one path only: two separate identical files do not become hard links', () => {
    const one = releaseFile('one', fileOf(a));
    const two = releaseFile('two', fileOf(a));
    const actions = planFiles([one, two], donors([one, two], { 'one': ['one', '1:1'], 'two': ['one', '1:1'] }));
    expect(actions.map((f) => f.kind)).toEqual(['link', 'write']);
  });

  it('keeps hard-link groups: later members alias the first, which may be linked', () => {
    const first = releaseFile('a/big', fileOf(a, b), { link: 1 });
    const second = releaseFile('b/big', fileOf(a, b), { link: 1 });
    const actions = planFiles([first, second], donors([first, second], { 'a/big': ['a/big', '2:2'] }));
    expect(actions.map((f) => f.kind)).toEqual(['link', 'alias']);
    expect(actions[1]).toMatchObject({ of: 'a/big' });
  });

  it('refuses a crafted hard-link group whose members differ', () => {
    const first = releaseFile('x', fileOf(a), { link: 1 });
    const second = releaseFile('y', fileOf(b), { link: 1 });
    let err: unknown;
    try {
      planFiles([first, second], donors([first, second]));
    } catch (e) {
      err = e;
    }
    expect(isChunkswarmError(err, 'E_BAD_OBJECT')).toBe(true);
    expect(String((err as Error).message)).toMatch(/hard-link group 1/);
  });
});

describe('layoutPieces', () => {
  it('needs nothing for chunks only in linked files, and fetches what no local file holds', () => {
    const same = releaseFile('etc/app.conf', fileOf(a));
    const changed = releaseFile('data/x.bin', fileOf(b, c));
    const files = [same, changed];
    const l = layout(files, planFiles(files, donors(files, { 'etc/app.conf': ['etc/app.conf', '1:10'] })));
    expect(l.writes(0)).toEqual([]);
    expect(l.linked(0)).toEqual({ path: 'etc/app.conf', offset: 0 });
    expect(states(l, 3)).toEqual(['done', 'fetch', 'fetch']);
  });

  it('fills a chunk to write from a linked copy or a clean local file', () => {
    const one = releaseFile('one', fileOf(a));
    const two = releaseFile('two', fileOf(a, d));
    const files = [one, two];
    const local = new Map([[d.hash as string, { path: '/data/releases/1/two', offset: 100 }]]);
    const l = layout(files, planFiles(files, donors(files, { 'one': ['one', '1:1'] })), local);
    expect(l.writes(0)).toEqual([{ path: 'two', offset: 0 }]);
    expect(l.local(1)).toEqual({ path: '/data/releases/1/two', offset: 100 });
    expect(states(l, 2)).toEqual(['local', 'local']);
  });

  it('writes a chunk at every offset where it occurs, across files and within one file', () => {
    const rep = releaseFile('rep', fileOf(a, b, a));
    const other = releaseFile('other', fileOf(c, a));
    const files = [rep, other];
    const l = layout(files, planFiles(files, donors(files)));
    expect(l.writes(0)).toEqual([
      { path: 'rep', offset: 0 },
      { path: 'rep', offset: 200 },
      { path: 'other', offset: 100 },
    ]);
    expect(states(l, 3)).toEqual(['fetch', 'fetch', 'fetch']);
  });

  it('a piece of several chunks is local only if every chunk to write is', () => {
    const f = releaseFile('f', fileOf(a, b));
    const chunks = chunksOf([f]);
    const actions = planFiles([f], donors([f]));
    const local = new Map([[a.hash as string, { path: '/x', offset: 0 }]]);
    const one = layoutPieces({ actions, files: [f], chunks, pieces: [{ size: 200, chunks }], local });
    expect(one.first(0)).toBe(0);
    expect(states(one, 1)).toEqual(['fetch']);
  });

  it('names the span of a piece that only the network has: from its first to its last such chunk', () => {
    const linked = releaseFile('linked', fileOf(a));
    const fetched = releaseFile('fetched', fileOf(b));
    const fromLocal = releaseFile('local', fileOf(c));
    const files = [linked, fetched, fromLocal];
    const chunks = chunksOf(files);
    const actions = planFiles(files, donors(files, { 'linked': ['linked', '1:1'] }));
    const piece = { size: 300, chunks };
    const at = (local: Map<string, { path: string; offset: number }>) => layoutPieces({ actions, files, chunks, pieces: [piece], local });
    // a is linked, c is in a clean local file: only b comes from the network.
    expect(at(new Map([[c.hash as string, { path: '/x', offset: 0 }]])).networkSpan(0, piece)).toEqual({ offset: 100, length: 100 });
    // Nothing local: b and c (a, linked, comes before them).
    expect(at(new Map()).networkSpan(0, piece)).toEqual({ offset: 100, length: 200 });
    // Everything on this node: no span.
    expect(at(new Map([[b.hash as string, { path: '/x', offset: 0 }], [c.hash as string, { path: '/y', offset: 0 }]])).networkSpan(0, piece)).toBeNull();
  });

  it('refuses actions that are not the files given, in their order', () => {
    const one = releaseFile('one', fileOf(a));
    const two = releaseFile('two', fileOf(b));
    const actions = planFiles([one, two], donors([one, two]));
    const chunks = chunksOf([one, two]);
    const pieces = chunks.map((c) => ({ size: c.size, chunks: [c] }));
    expect(() => layoutPieces({ actions, files: [two, one], chunks, pieces, local: new Map() })).toThrow(/one: its file object is not loaded/);
    expect(() => layoutPieces({ actions, files: [one], chunks, pieces, local: new Map() })).toThrow(/two: its file object is not loaded/);
  });

  it('refuses a file whose chunk is not among the release chunks', () => {
    const f = releaseFile('f', fileOf(a));
    const actions = planFiles([f], donors([f]));
    expect(() => layoutPieces({ actions, files: [f], chunks: [b], pieces: [{ size: 100, chunks: [b] }], local: new Map() })).toThrow(
      /not among the release's chunks/,
    );
  });
});

describe('groupPieces', () => {
  it('sizes pieces to about a 256th of the release, between 64 KiB and 1 MiB', () => {
    expect(pieceTarget(1_000)).toBe(PIECE_MIN);
    expect(pieceTarget(185e6)).toBe(PIECE_MAX);
    expect(pieceTarget(100e6)).toBe(512 * 1024);
    expect(pieceTarget(16e6)).toBe(PIECE_MIN);
    expect(pieceTarget(10e9)).toBe(PIECE_MAX);
  });

  it('groups consecutive small chunks into runs up to the target, every chunk in exactly one piece', () => {
    const small = Array.from({ length: 1000 }, (_, i) => chunk(`s${i}`, 1500));
    const pieces = groupPieces(small);
    expect(pieces.length).toBe(Math.ceil((1000 * 1500) / Math.floor(PIECE_MIN / 1500) / 1500));
    expect(pieces.every((p) => p.size <= PIECE_MIN && p.size === p.chunks.reduce((n, x) => n + x.size, 0))).toBe(true);
    expect(pieces.flatMap((p) => p.chunks)).toEqual(small);
  });

  it('keeps a chunk larger than the target in a piece of its own', () => {
    const big = chunk('big', 200_000);
    const pieces = groupPieces([chunk('x', 10), big, chunk('y', 10)]);
    expect(pieces.map((p) => p.chunks.length)).toEqual([1, 1, 1]);
    expect(groupPieces([])).toEqual([]);
  });
});
