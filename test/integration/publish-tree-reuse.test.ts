import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, link, mkdir, mkdtemp, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTrees } from '../../src/admin/build-objects.js';
import { scanSource } from '../../src/admin/scan-source.js';
import type { ObjectHash } from '../../src/core/index.js';
import { encodeObject, hashFile, objectHash, walkTree } from '../../src/manifest/index.js';
import { ObjectStore } from '../../src/store/index.js';

let dir: string;
let src: string;

/** The source as a publish sees it: scanned, every file hashed (no stat cache). */
async function trees(objects: ObjectStore, previous: ObjectHash | null, recordOwner = false): Promise<ObjectHash> {
  const scan = await scanSource(src);
  const fileHashes = new Map<string, ObjectHash>();
  for (const f of scan.files) fileHashes.set(f.path, objectHash(encodeObject(await hashFile(join(src, f.path)))));
  return buildTrees(scan.root, fileHashes, objects, { recordOwner }, previous);
}

/** Counts the trees a build encodes and stores. */
function counting(objects: ObjectStore): { puts: () => number } {
  let n = 0;
  const put = objects.put.bind(objects);
  objects.put = (o) => {
    n++;
    return put(o);
  };
  return { puts: () => n };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-tree-reuse-'));
  src = join(dir, 'src');
  for (const d of ['a', 'b', 'c', 'd', 'e', 'f']) {
    await mkdir(join(src, d, 'sub'), { recursive: true });
    await writeFile(join(src, d, 'one'), `one of ${d}\n`);
    await writeFile(join(src, d, 'sub', 'two'), `two of ${d}\n`);
  }
  await symlink('one', join(src, 'e', 'ln'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a publish encodes only the trees of changed directories', () => {
  it('takes every unchanged directory from the previous release and gives the root a build from scratch gives', async () => {
    const objects = new ObjectStore(join(dir, 'objects'));
    const first = await trees(objects, null);
    let dirs = 1;
    await walkTree(first, (h) => objects.getTree(h), (_path, e) => {
      if (e.type === 'dir') dirs++;
    });
    const again = counting(objects);
    expect(await trees(objects, first)).toBe(first);
    expect(again.puts(), 'an unchanged tree').toBe(0);

    // One change of each kind that a tree entry records, each in a directory of its own.
    await writeFile(join(src, 'a', 'sub', 'two'), 'two of a, edited\n');
    await chmod(join(src, 'b', 'one'), 0o600);
    await utimes(join(src, 'c', 'one'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    await link(join(src, 'd', 'one'), join(src, 'd', 'one-again'));
    await unlink(join(src, 'e', 'ln'));
    await symlink('sub/two', join(src, 'e', 'ln'));
    const changed = counting(objects);
    const reused = await trees(objects, first);
    const fresh = await trees(new ObjectStore(join(dir, 'objects-fresh')), null);
    expect(reused).toBe(fresh);
    // a/sub, a, b, c, d, e and the root; f and the other subdirectories are taken as they were.
    expect(changed.puts()).toBe(7);
    expect(dirs).toBeGreaterThan(changed.puts());
  });

  it('a change of owner policy re-encodes every tree, to the same root as from scratch', async () => {
    const objects = new ObjectStore(join(dir, 'objects-owner'));
    const plain = await trees(objects, null);
    const owned = await trees(objects, plain, true);
    expect(owned).not.toBe(plain);
    expect(owned).toBe(await trees(new ObjectStore(join(dir, 'objects-owner-fresh')), null, true));
  });
});
