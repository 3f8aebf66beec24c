import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectStore, StatCache, atomicWrite, removeTree } from '../../src/store/index.js';
import { encodeObject, objectHash, type TreeObject } from '../../src/manifest/index.js';
import type { ObjectHash } from '../../src/core/index.js';

const tree: TreeObject = { kind: 'tree', entries: [{ name: 'a', type: 'symlink', mode: 0o777, mtime: 5, target: 'b' }] };

describe('ObjectStore', () => {
  it('stores by hash, reads back, and rejects a damaged object file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-obj-'));
    const store = new ObjectStore(dir);
    const h = await store.put(tree);
    expect(h).toBe(objectHash(encodeObject(tree)));
    expect(await new ObjectStore(dir).getTree(h)).toEqual(tree);
    await expect(store.putBytes(encodeObject(tree), ('0'.repeat(64)) as ObjectHash)).rejects.toMatchObject({ code: 'E_HASH_MISMATCH' });
    await chmod(join(dir, h.slice(0, 2), h.slice(2)), 0o644);
    await writeFile(join(dir, h.slice(0, 2), h.slice(2)), 'tampered');
    await expect(new ObjectStore(dir).get(h)).rejects.toMatchObject({ code: 'E_HASH_MISMATCH' });
    await expect(new ObjectStore(dir).get('1'.repeat(64) as ObjectHash)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(new ObjectStore(dir).get('../../etc' as ObjectHash)).rejects.toMatchObject({ code: 'E_BAD_OBJECT' });
  });
});

describe('StatCache', () => {
  const key = { size: 10, mtimeMs: 1000, ctimeMs: 1000, ino: 7 };
  const h = 'a'.repeat(64) as ObjectHash;

  it('vouches only for an identical fingerprint and survives a reload', async () => {
    const p = join(await mkdtemp(join(tmpdir(), 'cs-sc-')), 'cache.json');
    const c = new StatCache(p);
    c.set('x', key, h);
    await c.save();
    const back = await new StatCache(p).load();
    expect(back.lookup('x', key)).toBe(h);
    expect(back.lookup('x', { ...key, ctimeMs: 1001 })).toBeNull();
    expect(back.lookup('x', { ...key, size: 11 })).toBeNull();
    expect(back.lookup('y', key)).toBeNull();
  });

  it('does not remember files changed inside the racy window', () => {
    const c = new StatCache('/nonexistent');
    c.set('x', key, h, 1000);
    expect(c.lookup('x', key)).toBeNull();
    c.set('x', key, h, 1001);
    expect(c.lookup('x', key)).toBe(h);
  });

  it('treats a damaged cache file as empty', async () => {
    const p = join(await mkdtemp(join(tmpdir(), 'cs-sc-')), 'cache.json');
    await writeFile(p, '{not json');
    expect((await new StatCache(p).load()).lookup('x', key)).toBeNull();
  });
});

describe('atomicWrite and removeTree', () => {
  it('leaves no temp file behind and removes read-only trees', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-aw-'));
    await atomicWrite(join(dir, 'f'), 'one');
    await atomicWrite(join(dir, 'f'), 'two');
    expect(await readdir(dir)).toEqual(['f']);
    await mkdir(join(dir, 't/sub'), { recursive: true });
    await writeFile(join(dir, 't/sub/file'), 'x');
    await chmod(join(dir, 't/sub'), 0o555);
    await chmod(join(dir, 't'), 0o555);
    await removeTree(join(dir, 't'));
    expect(await readdir(dir)).toEqual(['f']);
  });
});
