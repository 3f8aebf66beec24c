import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { planStage, type LinkCandidate, type PlanFile, type PlanInput } from '../../src/deploy/index.js';
import { asChunkHash, asObjectHash, isChunkswarmError } from '../../src/core/index.js';
import type { ChunkRef, FileObject, TreeEntry } from '../../src/manifest/index.js';

const h = (s: string) => createHash('sha256').update(s).digest('hex');
const chunk = (name: string, size = 100): ChunkRef => ({ hash: asChunkHash(h(`chunk ${name}`)), size });
const fileOf = (...chunks: ChunkRef[]): FileObject => ({ kind: 'file', size: chunks.reduce((n, c) => n + c.size, 0), chunks });
const objHash = (f: FileObject) => asObjectHash(h(JSON.stringify(f)));

function planFile(path: string, file: FileObject, meta: Partial<TreeEntry> = {}): PlanFile {
  const entry: TreeEntry = { name: path.split('/').pop()!, type: 'file', mode: 0o644, mtime: 1_000, hash: objHash(file), ...meta };
  return { path, entry, file };
}

function candidate(f: PlanFile, inode: string, meta: Partial<TreeEntry> = {}): LinkCandidate {
  return { path: `/data/releases/1/${f.path}`, entry: { ...f.entry, ...meta }, inode };
}

/** The pieces as releasePieces would list them: unique chunks in file order. */
function piecesOf(files: PlanFile[]): ChunkRef[] {
  const seen = new Set<string>();
  const out: ChunkRef[] = [];
  for (const f of files) for (const c of f.file.chunks) if (!seen.has(c.hash)) (seen.add(c.hash), out.push(c));
  return out;
}

function input(files: PlanFile[], candidates: LinkCandidate[] = [], extra: Partial<PlanInput> = {}): PlanInput {
  const byHash = new Map<string, LinkCandidate[]>();
  for (const c of candidates) byHash.set(c.entry.hash!, [...(byHash.get(c.entry.hash!) ?? []), c]);
  return { files, pieces: piecesOf(files), candidates: byHash, tainted: new Set(), hasLocal: () => false, ...extra };
}

const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => chunk(n)) as [ChunkRef, ChunkRef, ChunkRef, ChunkRef];

describe('planStage', () => {
  it('links a clean retained file with the same object and metadata; assembles and fetches the rest', () => {
    const same = planFile('etc/app.conf', fileOf(a));
    const changed = planFile('data/x.bin', fileOf(b, c));
    const plan = planStage(input([same, changed], [candidate(same, '1:10')]));
    expect(plan.files.map((f) => [f.path, f.kind])).toEqual([['etc/app.conf', 'link'], ['data/x.bin', 'assemble']]);
    expect(plan.files[0]).toMatchObject({ from: '/data/releases/1/etc/app.conf', inode: '1:10' });
    // Piece 0 (chunk a) is only in the linked file: nothing to write or fetch.
    expect(plan.writes[0]).toEqual([]);
    expect(plan.linkedAt[0]).toEqual({ path: 'etc/app.conf', offset: 0 });
    expect(plan.fetch).toEqual([1, 2]);
    expect(plan.local).toEqual([]);
    expect(plan.bytes).toEqual({ linked: 100, local: 0, fetch: 200 });
  });

  it.each([
    ['mode', { mode: 0o600 }],
    ['mtime', { mtime: 2_000 }],
    ['owner', { uid: 5, gid: 5 }],
  ])('does not link a candidate whose %s differs: one inode cannot carry two metadata', (_what, meta) => {
    const f = planFile('f', fileOf(a));
    const plan = planStage(input([f], [candidate(f, '1:1', meta)]));
    expect(plan.files[0]!.kind).toBe('assemble');
  });

  it('never links a drifted (tainted) inode, even when its entry looks identical', () => {
    const f = planFile('index.html', fileOf(a, b));
    const plan = planStage(input([f], [candidate(f, '1:7')], { tainted: new Set(['1:7']), hasLocal: () => true }));
    expect(plan.files[0]!.kind).toBe('assemble');
    expect(plan.local).toEqual([0, 1]);
    expect(plan.fetch).toEqual([]);
  });

  it('falls back to the next clean candidate when the first one drifted', () => {
    const f = planFile('index.html', fileOf(a));
    const plan = planStage(input([f], [candidate(f, '1:7'), { ...candidate(f, '1:8'), path: '/data/releases/0/index.html' }], { tainted: new Set(['1:7']) }));
    expect(plan.files[0]).toMatchObject({ kind: 'link', inode: '1:8', from: '/data/releases/0/index.html' });
  });

  it('lends one inode to one path only: two separate identical files do not become hard links', () => {
    const one = planFile('one', fileOf(a));
    const two = planFile('two', fileOf(a));
    const plan = planStage(input([one, two], [candidate(one, '1:1')]));
    expect(plan.files.map((f) => f.kind)).toEqual(['link', 'assemble']);
    // Chunk a must be written into "two"; the linked "one" holds it locally.
    expect(plan.writes[0]).toEqual([{ path: 'two', offset: 0 }]);
    expect(plan.local).toEqual([0]);
  });

  it('keeps hard-link groups: later members alias the first, which may be linked', () => {
    const first = planFile('a/big', fileOf(a, b), { link: 1 });
    const second = planFile('b/big', fileOf(a, b), { link: 1 });
    const plan = planStage(input([first, second], [candidate(first, '2:2')]));
    expect(plan.files.map((f) => f.kind)).toEqual(['link', 'alias']);
    expect(plan.files[1]).toMatchObject({ of: 'a/big' });
    expect(plan.fetch).toEqual([]);
  });

  it('refuses a crafted hard-link group whose members differ', () => {
    const first = planFile('x', fileOf(a), { link: 1 });
    const second = planFile('y', fileOf(b), { link: 1 });
    let err: unknown;
    try {
      planStage(input([first, second]));
    } catch (e) {
      err = e;
    }
    expect(isChunkswarmError(err, 'E_BAD_OBJECT')).toBe(true);
    expect(String((err as Error).message)).toMatch(/hard-link group 1/);
  });

  it('writes a chunk at every offset where it occurs, across files and within one file', () => {
    const rep = planFile('rep', fileOf(a, b, a));
    const other = planFile('other', fileOf(c, a));
    const plan = planStage(input([rep, other], [], { hasLocal: (hash) => hash === c.hash }));
    expect(plan.writes[0]).toEqual([
      { path: 'rep', offset: 0 },
      { path: 'rep', offset: 200 },
      { path: 'other', offset: 100 },
    ]);
    expect(plan.local).toEqual([2]);
    expect(plan.fetch).toEqual([0, 1]);
  });

  it('assembles empty files and files whose chunks are all local without fetching', () => {
    const empty = planFile('empty', fileOf());
    const moved = planFile('moved', fileOf(c, d));
    const plan = planStage(input([empty, moved], [], { hasLocal: () => true }));
    expect(plan.files.map((f) => f.kind)).toEqual(['assemble', 'assemble']);
    expect(plan.fetch).toEqual([]);
    expect(plan.local).toEqual([0, 1]);
  });

  it('refuses a file whose chunk is not among the pieces', () => {
    const f = planFile('f', fileOf(a));
    expect(() => planStage({ ...input([f]), pieces: [b] })).toThrow(/not among the release's pieces/);
  });
});
