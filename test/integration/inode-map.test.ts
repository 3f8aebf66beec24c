/**
 * The inode maps (deploy/inode-map.ts) that let staging keep a recycled tree's files unseen: a
 * directory whose names changed since its record vouches for nothing, and a map that is missing,
 * damaged or of a release no longer on disk is no map at all.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inodeKey, ReleaseStore } from '../../src/store/index.js';
import { inodeMapPath, pruneInodeMaps, recordInodeMap, sharedWithLive } from '../../src/deploy/inode-map.js';

let data: string;
let tree: string;
let releases: ReleaseStore;
// In walk order: a directory's files are not all together (a/b/four.txt comes between a's).
const paths = ['a/0.txt', 'a/b/four.txt', 'a/one.txt', 'a/two.txt', 'b/c/three.txt', 'top.txt'];

beforeEach(async () => {
  data = await mkdtemp(join(tmpdir(), 'cs-inode-map-'));
  releases = new ReleaseStore(data);
  await releases.init();
  tree = releases.releasePath(7);
  await mkdir(join(tree, 'a/b'), { recursive: true });
  await mkdir(join(tree, 'b/c'), { recursive: true });
  for (const p of paths) await writeFile(join(tree, p), p);
});

afterEach(async () => {
  await rm(data, { recursive: true, force: true });
});

const nameOf = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const onDisk = () => new Map(paths.map((p) => [p, lstatSync(join(tree, p))]));
/** recordInodeMap's input: each file's path, its last component and its inode. */
const records = () => [...onDisk()].map(([p, st]) => [p, nameOf(p), st] as const);
/** What the map of release 7 vouches for, read as both sides of sharedWithLive (its tree is where its map says). */
const mapped = async () => {
  const shared = await sharedWithLive(releases, 7, tree, 7);
  const vouched = paths.filter((p) => shared.inoAt(p, nameOf(p)) !== undefined);
  return new Map(vouched.map((p) => [p, `${shared.dev}:${shared.inoAt(p, nameOf(p))}`]));
};

describe('inode maps', () => {
  it('give back what was recorded for unchanged directories, never the root\'s files', async () => {
    await recordInodeMap(releases, 7, tree, records());
    const map = await mapped();
    const expected = new Map([...onDisk()].map(([p, st]) => [p, inodeKey(st)]));
    expected.delete('top.txt');
    expect(map).toEqual(expected);
    const shared = await sharedWithLive(releases, 7, tree, 7);
    expect(shared.inoAt('b/c/three.txt', 'three.txt')).toBe(lstatSync(join(tree, 'b/c/three.txt')).ino);
    expect([shared.inoAt('top.txt', 'top.txt'), shared.inoAt('a/none.txt', 'none.txt'), shared.inoAt('z/one.txt', 'one.txt')]).toEqual([undefined, undefined, undefined]);
    // Asked in any order (each directory's record found again), and never with a name that is not the path's last component.
    expect(shared.inoAt('a/one.txt', 'one.txt')).toBe(lstatSync(join(tree, 'a/one.txt')).ino);
    expect(shared.inoAt('a/b/four.txt', 'four.txt')).toBe(lstatSync(join(tree, 'a/b/four.txt')).ino);
    expect(shared.inoAt('a/two.txt', 'two.txt')).toBe(lstatSync(join(tree, 'a/two.txt')).ino);
    expect([shared.inoAt('a/one.txt', 'two.txt'), shared.inoAt('a/one.txt', 'e.txt'), shared.inoAt('a/one.txt', '/one.txt')]).toEqual([undefined, undefined, undefined]);
  });

  it('a name changed in a directory drops that directory, not the others', async () => {
    await recordInodeMap(releases, 7, tree, records());
    await writeFile(join(tree, 'a/.new'), 'x');
    await rename(join(tree, 'a/.new'), join(tree, 'a/one.txt'));
    const map = await mapped();
    expect([...map.keys()]).toEqual(['a/b/four.txt', 'b/c/three.txt']);
  });

  it('a damaged or missing map is an empty one', async () => {
    expect((await mapped()).size).toBe(0);
    await recordInodeMap(releases, 7, tree, records());
    await writeFile(inodeMapPath(releases, 7), '{"format":2,"dev":1,"dirs":[["a"');
    expect((await mapped()).size).toBe(0);
    await writeFile(inodeMapPath(releases, 7), '{"format":2,"dev":1,"dirs":[["a",2,0,0,["x"]]]}');
    expect((await mapped()).size).toBe(0);
  });

  it('maps of releases no longer kept are pruned', async () => {
    await recordInodeMap(releases, 7, tree, records());
    await recordInodeMap(releases, 8, tree, records());
    await pruneInodeMaps(releases, [8]);
    expect(await readdir(join(data, 'inode-maps'))).toEqual(['8.json']);
  });
});
