import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, mkdtemp, rename, rm, symlink, unlink, utimes, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyExitBits, verifyTree, type VerifyResult } from '../../src/deploy/index.js';
import { loadRelease, treePackName } from '../../src/deploy/release-files.js';
import { InodeCache, ObjectStore } from '../../src/store/index.js';
import type { ObjectHash } from '../../src/core/index.js';
import { snapshotTree } from '../support/release-snapshot.js';

let dir: string;
let tree: string;
let objects: ObjectStore;
let root: ObjectHash;
const OLD = new Date('2024-01-01T00:00:00Z');

const snapshot = (abs: string) => snapshotTree(objects, abs);

async function check(deep = false, cache?: InodeCache): Promise<VerifyResult> {
  return verifyTree({ dir: tree, version: 1, root, objects, cache: cache ?? InodeCache.memory(), deep, owner: false });
}

const summary = (r: VerifyResult) => r.entries.map((e) => `${e.kind} ${e.path}`);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-verify-'));
  tree = join(dir, 'tree');
  objects = new ObjectStore(join(dir, 'objects'));
  await mkdir(join(tree, 'etc'), { recursive: true });
  await writeFile(join(tree, 'etc/app.conf'), 'listen 80\n');
  await writeFile(join(tree, 'index.html'), '<h1>hi</h1>\n');
  await symlink('etc/app.conf', join(tree, 'conf'));
  for (const p of ['etc/app.conf', 'index.html']) {
    await chmod(join(tree, p), 0o444);
    await utimes(join(tree, p), OLD, OLD);
  }
  // Releases are read-only on disk; as root the tests can still edit them, like a hand edit would.
  await chmod(join(tree, 'etc'), 0o555);
  root = await snapshot(tree);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('verifyTree', () => {
  it('reads the release\'s trees from their pack when it has one: no object journal is needed', async () => {
    await loadRelease(root, objects, tree);
    expect(objects.packs().sort()).toEqual([root, treePackName(root)].sort());
    await rename(join(dir, 'objects', 'journal'), join(dir, 'journal-away'));
    objects = new ObjectStore(join(dir, 'objects'));
    expect((await check()).entries).toEqual([]);
    // Without the pack, the trees are nowhere.
    objects.dropPack(treePackName(root));
    objects = new ObjectStore(join(dir, 'objects'));
    await expect(check()).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('a release loaded like another gets a pack with all its trees, the shared ones copied', async () => {
    await loadRelease(root, objects, tree);
    const etc = (await objects.getTree(root)).entries.find((e) => e.name === 'etc')!;
    await chmod(tree, 0o755);
    await writeFile(join(tree, 'index.html'), '<h1>hello</h1>\n');
    await utimes(join(tree, 'index.html'), OLD, OLD);
    const next = await snapshot(tree);
    expect((await objects.getTree(next)).entries.find((e) => e.name === 'etc')!.hash).toBe(etc.hash);
    await loadRelease(next, objects, tree, { like: root });
    await rename(join(dir, 'objects', 'journal'), join(dir, 'journal-away'));
    objects = new ObjectStore(join(dir, 'objects'));
    expect(objects.loadPack(treePackName(next))).toBe(2);
    expect((await objects.getTree(etc.hash!)).entries.map((e) => e.name)).toEqual(['app.conf']);
  });

  it('finds nothing in an untouched tree', async () => {
    const r = await check();
    expect(r.entries).toEqual([]);
    expect(r.checked).toBe(4);
    expect(verifyExitBits(r)).toBe(0);
  });

  it('classifies content edits, metadata changes, removals, additions and type changes', async () => {
    await writeFile(join(tree, 'etc/app.conf'), 'listen 8080\n');
    await chmod(join(tree, 'index.html'), 0o644);
    await unlink(join(tree, 'conf'));
    await symlink('/etc/passwd', join(tree, 'conf'));
    await writeFile(join(tree, 'stray.txt'), 'x');
    await mkdir(join(tree, 'newdir'));
    await writeFile(join(tree, 'newdir/inner'), 'y');
    const r = await check();
    expect(summary(r)).toEqual([
      'modified conf',
      'modified etc/app.conf',
      'meta index.html',
      'added newdir',
      'added newdir/inner',
      'added stray.txt',
    ]);
    const edit = r.entries.find((e) => e.path === 'etc/app.conf')!;
    expect(edit.old).toMatchObject({ size: 10, mode: 0o444, mtime: OLD.getTime() });
    expect(edit.new).toMatchObject({ size: 12, type: 'file' });
    expect(edit.new!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(edit.new!.hash).not.toBe(edit.old!.hash);
    expect(r.entries.find((e) => e.path === 'conf')!.new!.target).toBe('/etc/passwd');
    expect(r.counts).toEqual({ added: 3, removed: 0, modified: 2, meta: 1, type: 0 });
    expect(verifyExitBits(r)).toBe(1 | 4);
  });

  it('a file removed and another added in the same directory: both reported, though the count of names is the same', async () => {
    await chmod(join(tree, 'etc'), 0o755);
    await unlink(join(tree, 'etc/app.conf'));
    await writeFile(join(tree, 'etc/other.conf'), 'listen 80\n');
    await chmod(join(tree, 'etc'), 0o555);
    const r = await check();
    expect(summary(r)).toEqual(['removed etc/app.conf', 'added etc/other.conf']);
  });

  it('reports an mtime-only change as metadata, a removed dir with its contents, and a file turned into a dir', async () => {
    const later = new Date('2024-06-01T00:00:00Z');
    await utimes(join(tree, 'index.html'), later, later);
    await rm(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc'), 'now a file');
    const r = await check();
    expect(summary(r)).toEqual(['type etc', 'removed etc/app.conf', 'meta index.html']);
    expect(r.entries[0]!.old!.type).toBe('directory');
    expect(r.entries[0]!.new!.type).toBe('file');
    expect(r.entries[2]!.new!.mtime).toBe(later.getTime());
    expect(verifyExitBits(r)).toBe(2 | 4);
  });

  it('quick mode trusts the stat cache, and its ctime catches an edit that puts size and mtime back; deep mode hashes everything', async () => {
    const cache = await InodeCache.open(dir);
    expect((await check(false, cache)).hashed).toBe(2);
    expect((await check(false, cache)).hashed).toBe(0);
    expect((await check(false, await InodeCache.open(dir))).hashed).toBe(0);
    // Same size, same inode, mtime put back: only ctime moved.
    const fh = await open(join(tree, 'index.html'), 'r+');
    await fh.write('<h1>HI</h1>\n', 0);
    await fh.close();
    await utimes(join(tree, 'index.html'), OLD, OLD);
    const quick = await check(false, cache);
    expect(quick.hashed).toBe(1);
    expect(summary(quick)).toEqual(['modified index.html']);
    const deep = await check(true, cache);
    expect(deep.hashed).toBe(2);
    expect(summary(deep)).toEqual(['modified index.html']);
  });

  it('lists a directory again only when its state moved since it last held exactly the release\'s names', async () => {
    for (const d of [join(tree, 'etc'), tree]) await utimes(d, OLD, OLD);
    root = await snapshot(tree);
    const etcHash = (await objects.getTree(root)).entries.find((e) => e.name === 'etc')!.hash!;
    const cache = InodeCache.memory();
    expect((await check(false, cache)).entries).toEqual([]);
    // Remembered with their trees: the next quick check does not list them.
    expect([cache.hashOf(await lstat(tree)), cache.hashOf(await lstat(join(tree, 'etc')))]).toEqual([root, etcHash]);
    await writeFile(join(tree, 'etc/extra.conf'), 'x\n');
    expect(summary(await check(false, cache))).toEqual(['added etc/extra.conf']);
    // The name added, then the directory's mtime put back: its ctime still moved.
    await utimes(join(tree, 'etc'), OLD, OLD);
    expect(summary(await check(false, cache))).toEqual(['added etc/extra.conf']);
    await unlink(join(tree, 'etc/extra.conf'));
    await utimes(join(tree, 'etc'), OLD, OLD);
    expect((await check(false, cache)).entries).toEqual([]);
    expect(cache.hashOf(await lstat(join(tree, 'etc')))).toBe(etcHash);
    await rename(join(tree, 'index.html'), join(tree, 'index.htm'));
    expect(summary(await check(false, cache))).toEqual(['added index.htm', 'removed index.html']);
  });

  it('re-hashes a file whose stat changed even when the cache knew it', async () => {
    const cache = InodeCache.memory();
    await check(false, cache);
    await writeFile(join(tree, 'index.html'), '<h1>changed</h1>\n');
    await utimes(join(tree, 'index.html'), OLD, OLD);
    const r = await check(false, cache);
    expect(r.hashed).toBe(1);
    expect(summary(r)).toEqual(['modified index.html']);
  });
});
