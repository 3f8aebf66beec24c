import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readdirSync, statSync } from 'node:fs';
import { readdir, readFile, writeFile, chmod, mkdir, link, lstat, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { InodeCache, ObjectStore, StatCache, atomicWrite, fetchObjects, removeTree } from '../../src/store/index.js';
import { encodeObject, objectHash, type FileObject, type TreeObject } from '../../src/manifest/index.js';
import { eachFileRecord, eachRecord, encodeRecord } from '../../src/store/journal-records.js';
import type { ChunkHash, ObjectHash } from '../../src/core/index.js';
import { openFdsUnder } from '../support/open-fds.js';
import { tempDirs } from '../support/temp-dirs.js';

const tempDir = tempDirs();

const tree: TreeObject = { kind: 'tree', entries: [{ name: 'a', type: 'symlink', mode: 0o777, mtime: 5, target: 'b' }] };

describe('ObjectStore', () => {
  const journalOf = async (dir: string) => {
    const names = await readdir(join(dir, 'journal'));
    expect(names).toHaveLength(1);
    return join(dir, 'journal', names[0]!);
  };

  it('stores by hash in its journal, reads back, and rejects a damaged object', async () => {
    const dir = await tempDir('cs-obj-');
    const store = new ObjectStore(dir);
    const h = await store.put(tree);
    expect(h).toBe(objectHash(encodeObject(tree)));
    expect(await new ObjectStore(dir).getTree(h)).toEqual(tree);
    await expect(store.putBytes(encodeObject(tree), ('0'.repeat(64)) as ObjectHash)).rejects.toMatchObject({ code: 'E_HASH_MISMATCH' });
    const journal = await journalOf(dir);
    const bytes = await readFile(journal);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(journal, bytes);
    await expect(new ObjectStore(dir).get(h)).rejects.toMatchObject({ code: 'E_HASH_MISMATCH', message: expect.stringContaining(journal) });
    await expect(new ObjectStore(dir).get('1'.repeat(64) as ObjectHash)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(new ObjectStore(dir).get('../../etc' as ObjectHash)).rejects.toMatchObject({ code: 'E_BAD_OBJECT' });
  });

  it('reads back records of every size from its journal, small ones in one read and large ones past it', async () => {
    const dir = await tempDir('cs-obj-');
    const store = new ObjectStore(dir);
    const trees = [1, 40, 76, 77, 78, 500, 3000, 2].map((n): TreeObject => ({
      kind: 'tree',
      entries: Array.from({ length: n }, (_, i) => ({ name: `e${String(i).padStart(5, '0')}`, type: 'symlink' as const, mode: 0o777, mtime: n, target: 't'.repeat(40) })),
    }));
    const sizes = trees.map((t) => encodeObject(t).length);
    // Around the 4 KiB of the first read, and the last record at the end of the file.
    expect(sizes.some((n) => n + 36 < 4096) && sizes.some((n) => n + 36 > 4096 && n < 4096) && sizes.some((n) => n > 100_000)).toBe(true);
    const hashes = [];
    for (const t of trees) hashes.push(await store.put(t));
    const fresh = new ObjectStore(dir);
    for (const [i, h] of hashes.entries()) expect(await fresh.getTree(h)).toEqual(trees[i]);
  });

  it('writes records many at a time, in the order stored, each readable as soon as it is stored', async () => {
    const dir = await tempDir('cs-obj-');
    const store = new ObjectStore(dir);
    const trees = Array.from({ length: 50 }, (_, n): TreeObject => ({ kind: 'tree', entries: [{ name: `l${n}`, type: 'symlink', mode: 0o777, mtime: n, target: 't' }] }));
    const hashes: ObjectHash[] = [];
    for (const t of trees) hashes.push(await store.put(t));
    // Before this turn of the event loop ends, nothing is written yet, and everything reads.
    const journal = join(dir, 'journal', readdirSync(join(dir, 'journal'))[0]!);
    expect(statSync(journal).size).toBe(0);
    for (const [i, h] of hashes.entries()) expect(Buffer.from((await store.getBytes(h))!).equals(encodeObject(trees[i]!))).toBe(true);
    // Another store of this process writes them first when it looks.
    expect(await new ObjectStore(dir).getTree(hashes[49]!)).toEqual(trees[49]);
    const order: string[] = [];
    eachRecord(await readFile(journal), (hash) => order.push(hash));
    expect(order).toEqual(hashes);
  });

  it('keeps the bytes of objects it read lately, checked when read, until trimmed', async () => {
    const dir = await tempDir('cs-obj-');
    const h = await new ObjectStore(dir).put(tree);
    const server = new ObjectStore(dir);
    expect(Buffer.from((await server.getBytes(h))!).equals(encodeObject(tree))).toBe(true);
    const journal = await journalOf(dir);
    const bytes = await readFile(journal);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(journal, bytes);
    // Asked again (another follower), the checked copy in memory answers; the disk is read again only after a trim.
    expect(Buffer.from((await server.getBytes(h))!).equals(encodeObject(tree))).toBe(true);
    server.trim();
    await expect(server.getBytes(h)).rejects.toMatchObject({ code: 'E_HASH_MISMATCH' });
  });

  it('keeps its own copy of an object that came as a small part of a large message, and not the message', async () => {
    const dir = await tempDir('cs-obj-');
    const encoded = encodeObject(tree);
    // A peer's answer carries hundreds of objects in one record: each one stored is a view of it.
    const message = Buffer.alloc(1 << 20);
    encoded.forEach((b, i) => (message[4096 + i] = b));
    const view = message.subarray(4096, 4096 + encoded.length);
    const store = new ObjectStore(dir);
    const h = await store.putVerified(view, objectHash(encoded));
    const kept = (await store.getBytes(h))!;
    expect(Buffer.from(kept).equals(encoded)).toBe(true);
    expect(kept.buffer).not.toBe(message.buffer);
    expect(kept.buffer.byteLength).toBeLessThan(message.length / 2);
    message.fill(0);
    expect(Buffer.from((await store.getBytes(h))!).equals(encoded)).toBe(true);
  });

  it('reads objects stored one file each, as older versions wrote them, and rejects a damaged one', async () => {
    const dir = await tempDir('cs-obj-');
    const bytes = encodeObject(tree);
    const h = objectHash(bytes);
    await mkdir(join(dir, h.slice(0, 2)));
    await writeFile(join(dir, h.slice(0, 2), h.slice(2)), bytes);
    const store = new ObjectStore(dir);
    expect(store.has(h)).toBe(true);
    expect(await store.getTree(h)).toEqual(tree);
    await store.put(tree);
    await expect(readdir(join(dir, 'journal'))).rejects.toMatchObject({ code: 'ENOENT' });
    await writeFile(join(dir, h.slice(0, 2), h.slice(2)), 'tampered');
    await expect(new ObjectStore(dir).get(h)).rejects.toMatchObject({ code: 'E_HASH_MISMATCH' });
  });

  it('sees what another store appended since, and never reads a torn record', async () => {
    const dir = await tempDir('cs-obj-');
    const reader = new ObjectStore(dir);
    const file = (n: number) => ({ kind: 'file' as const, size: n, chunks: [{ hash: String(n).repeat(64) as never, size: n }] });
    expect(reader.has(objectHash(encodeObject(file(1))))).toBe(false);
    const writer = new ObjectStore(dir);
    const [a, b] = [await writer.put(file(1)), await writer.put(file(2))];
    // Not seen by has() (fetched again, the same bytes), found by a read that misses.
    expect(reader.has(a)).toBe(false);
    expect(await reader.getFile(a)).toEqual(file(1));
    // A crash in the middle of the second record: the first still reads, the second is absent.
    const journal = await journalOf(dir);
    const whole = await readFile(journal);
    await writeFile(journal, whole.subarray(0, whole.length - 3));
    const after = new ObjectStore(dir);
    expect(await after.getFile(a)).toEqual(file(1));
    expect(after.has(b)).toBe(false);
    expect(await after.getBytes(b)).toBeNull();
    // Stored again, it goes to the journal of the store that writes it, never after the torn record.
    await after.put(file(2));
    expect(await readdir(join(dir, 'journal'))).toHaveLength(2);
    expect(await new ObjectStore(dir).getFile(b)).toEqual(file(2));
  });
});

describe('ObjectStore index', () => {
  it('is made when asked (serve asks once settled): has() answers from it, and what another store writes after it is not seen', async () => {
    const dir = await tempDir('cs-obj-');
    const file = (n: number) => ({ kind: 'file' as const, size: n, chunks: [{ hash: String(n).repeat(64) as never, size: n }] });
    const writer = new ObjectStore(dir);
    const a = await writer.put(file(1));
    const early = new ObjectStore(dir);
    early.index();
    const b = await writer.put(file(2));
    expect(early.has(a)).toBe(true);
    expect(early.has(b)).toBe(false);
    // Not asked for, it is made by the first has().
    const late = new ObjectStore(dir);
    expect(late.has(b)).toBe(true);
  });
});

describe('ObjectStore refetch', () => {
  it('fetches a damaged or missing object again, and the copy fetched is the one read from then on', async () => {
    const dir = await tempDir('cs-obj-');
    const file = (n: number) => ({ kind: 'file' as const, size: n, chunks: [{ hash: String(n).repeat(64) as never, size: n }] });
    const h = await new ObjectStore(dir).put(file(1));
    const journal = join(dir, 'journal', (await readdir(join(dir, 'journal')))[0]!);
    const bytes = await readFile(journal);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(journal, bytes);
    const asked: Array<[string, string]> = [];
    const store = new ObjectStore(dir);
    store.refetch = async (hash, why) => {
      asked.push([hash, why.code]);
      return encodeObject(file(1));
    };
    expect(await store.getFile(h)).toEqual(file(1));
    const missing = objectHash(encodeObject(file(2)));
    store.refetch = async (hash, why) => {
      asked.push([hash, why.code]);
      return encodeObject(hash === missing ? file(2) : file(3));
    };
    expect(await store.getFile(missing)).toEqual(file(2));
    expect(asked).toEqual([[h, 'E_HASH_MISMATCH'], [missing, 'E_NOT_FOUND']]);
    // A peer's wrong answer is not stored.
    const other = objectHash(encodeObject(file(4)));
    await expect(store.get(other)).rejects.toMatchObject({ code: 'E_HASH_MISMATCH' });
    // Without a refetch, a fresh store reads the newer, good copy, not the damaged one.
    const fresh = new ObjectStore(dir);
    expect(await fresh.getFile(h)).toEqual(file(1));
    expect(await fresh.getFile(missing)).toEqual(file(2));
    expect(fresh.has(other)).toBe(false);
  });
});

describe('ObjectStore packs', () => {
  it('loads a release\'s objects from one file checked whole, drops a damaged pack, and copies the records of a similar one', async () => {
    const dir = await tempDir('cs-pack-');
    const store = new ObjectStore(dir);
    const fileOf = (n: number): FileObject => ({ kind: 'file', size: n, chunks: [{ hash: String(n).repeat(64) as ChunkHash, size: n }] });
    const files = await Promise.all([1, 2, 3].map((n) => store.put(fileOf(n))));
    await store.savePack('r1', files);
    expect(store.packs()).toEqual(['r1']);
    const fresh = new ObjectStore(dir);
    expect(fresh.loadPack('r1')).toBe(3);
    // Read once until trim(): staging reads it before measuring the release and again to load it.
    expect(fresh.loadPack('r1')).toBe(0);
    fresh.trim();
    expect(fresh.loadPack('r1')).toBe(3);
    expect(await fresh.getFile(files[1]!)).toEqual(fileOf(2));

    // A pack of a release sharing two of them: r1's records are copied, byte for byte, the new one encoded.
    const four = await store.put(fileOf(4));
    await store.savePack('r2', [files[0]!, files[2]!, four], 'r1');
    const r2 = new ObjectStore(dir);
    expect(r2.loadPack('r2')).toBe(3);
    for (const [h, n] of [[files[0]!, 1], [files[2]!, 3], [four, 4]] as const) expect(await r2.getFile(h)).toEqual(fileOf(n));

    // One flipped byte anywhere: the pack is not trusted, and removed so that it can be written again.
    const path = join(dir, 'packs', 'r1');
    const bytes = await readFile(path);
    bytes[bytes.length - 40] = bytes[bytes.length - 40]! ^ 0xff;
    await writeFile(path, bytes);
    expect(new ObjectStore(dir).loadPack('r1')).toBeNull();
    expect(store.packs()).toEqual(['r2']);
    // The objects themselves are still read from the store.
    expect(await new ObjectStore(dir).getFile(files[1]!)).toEqual(fileOf(2));
    await store.savePack('r1', files);
    expect(new ObjectStore(dir).loadPack('r1')).toBe(3);
    expect(new ObjectStore(dir).loadPack('missing')).toBeNull();
    store.dropPack('r1');
    expect(store.packs()).toEqual(['r2']);
  });

  it('copies from the pack it read last exactly the records asked for, runs of them and single ones, and encodes the rest', async () => {
    const dir = await tempDir('cs-pack-runs-');
    const store = new ObjectStore(dir);
    const fileOf = (n: number): FileObject => ({ kind: 'file', size: n, chunks: [{ hash: n.toString(16).padStart(64, '0') as ChunkHash, size: n }] });
    const hashes = await Promise.all([...Array(10).keys()].map((n) => store.put(fileOf(n + 1))));
    await store.savePack('r1', hashes);
    const reader = new ObjectStore(dir);
    expect(reader.loadPack('r1')).toBe(10);
    // Dropped: the first record, two in the middle, one alone between kept ones, and the last.
    const dropped = new Set([0, 3, 4, 6, 9]);
    const kept = hashes.filter((_, i) => !dropped.has(i));
    const extra = await reader.put(fileOf(11));
    await reader.savePack('r2', [extra, ...kept], 'r1');
    const bodies = new ObjectStore(dir).packBytes('r2')!;
    expect([...bodies.keys()].sort()).toEqual([...kept, extra].sort());
    const check = new ObjectStore(dir);
    expect(check.loadPack('r2')).toBe(kept.length + 1);
    for (const [i, h] of hashes.entries()) if (!dropped.has(i)) expect(await check.getFile(h)).toEqual(fileOf(i + 1));
    expect(await check.getFile(extra)).toEqual(fileOf(11));
  });

  it('trim keeps in memory the objects of the release it is given (the live one), and only those', async () => {
    const dir = await tempDir('cs-trim-');
    const store = new ObjectStore(join(dir, 'objects'));
    const fileOf = (n: number): FileObject => ({ kind: 'file', size: n, chunks: [{ hash: n.toString(16).padStart(64, '0') as ChunkHash, size: n }] });
    const [f1, f2, other] = await Promise.all([1, 2, 3].map((n) => store.put(fileOf(n))));
    const sub = await store.put({ kind: 'tree', entries: [{ name: 'a', type: 'file', mode: 0o644, mtime: 0, hash: f1! }] });
    const root = await store.put({
      kind: 'tree',
      entries: [{ name: 'b', type: 'file', mode: 0o644, mtime: 0, hash: f2! }, { name: 'd', type: 'dir', mode: 0o755, mtime: 0, hash: sub }],
    });
    await store.savePack('files', [f1!, f2!]);
    await store.savePack('older', [other!]);
    store.trim({ root, packs: ['files'] });
    store.close();
    // Nothing on disk any more: what is answered comes from memory.
    await rm(join(dir, 'objects'), { recursive: true, force: true });
    expect(await store.getTree(root)).toMatchObject({ kind: 'tree' });
    expect(await store.getTree(sub)).toMatchObject({ kind: 'tree' });
    expect(await store.getFile(f1!)).toEqual(fileOf(1));
    expect(await store.getFile(f2!)).toEqual(fileOf(2));
    await expect(store.getFile(other!)).rejects.toThrow();
    // Its pack counts as read (all its objects are here), and the next release's pack copies its records from memory.
    expect(store.loadPack('files')).toBe(0);
    expect(store.loadPack('older')).toBeNull();
    await store.savePack('next2', [f1!], 'files');
    expect([...new ObjectStore(join(dir, 'objects')).packBytes('next2')!.keys()]).toEqual([f1]);
    store.trim();
    await expect(store.getFile(f1!)).rejects.toThrow();
  });

  it('writes no pack that would lack an object it does not hold', async () => {
    const dir = await tempDir('cs-pack-');
    const store = new ObjectStore(dir);
    const held = await store.put({ kind: 'file', size: 1, chunks: [{ hash: '1'.repeat(64) as ChunkHash, size: 1 }] });
    await store.savePack('short', [held, 'f'.repeat(64) as ObjectHash]);
    expect(store.packs()).toEqual([]);
    await store.savePack('whole', [held]);
    expect(store.packs()).toEqual(['whole']);
  });

  it('hands out a pack\'s encoded objects for an importer, and leaves a damaged pack where it is', async () => {
    const dir = await tempDir('cs-pack-');
    const store = new ObjectStore(dir);
    const objs: FileObject[] = [5, 6].map((n) => ({ kind: 'file', size: n, chunks: [{ hash: String(n).repeat(64) as ChunkHash, size: n }] }));
    const hashes = await Promise.all(objs.map((o) => store.put(o)));
    await store.savePack('r', hashes);
    const bytes = new ObjectStore(dir).packBytes('r')!;
    expect([...bytes.keys()].sort()).toEqual([...hashes].sort());
    for (const [i, h] of hashes.entries()) expect(Buffer.from(bytes.get(h)!)).toEqual(Buffer.from(encodeObject(objs[i]!)));
    const path = join(dir, 'packs', 'r');
    const raw = await readFile(path);
    raw[12] = raw[12]! ^ 1;
    await writeFile(path, raw);
    expect(new ObjectStore(dir).packBytes('r')).toBeNull();
    expect(store.packs()).toEqual(['r']);
    expect(new ObjectStore(dir).packBytes('missing')).toBeNull();
  });
});

describe('fetchObjects', () => {
  it('fetches what is missing, skips a local subtree whole, and stores a tree only after everything below it', async () => {
    const dir = await tempDir('cs-fetch-');
    const source = new ObjectStore(join(dir, 'source'));
    const file = (n: number) => source.put({ kind: 'file', size: 1, chunks: [{ hash: String(n % 10).repeat(64) as never, size: 1 }] });
    const dirOf = async (names: number[]) => ({
      kind: 'tree' as const,
      entries: await Promise.all(names.map(async (n) => ({ name: `f${n}`, type: 'file' as const, mode: 0o644, mtime: 1, hash: await file(n) }))),
    });
    const a = await source.put(await dirOf([1, 2, 3]));
    const b = await source.put(await dirOf([4, 5]));
    const root = await source.put({ kind: 'tree', entries: [{ name: 'a', type: 'dir', mode: 0o755, mtime: 1, hash: a }, { name: 'b', type: 'dir', mode: 0o755, mtime: 1, hash: b }] });
    const asked: string[] = [];
    const request = async (h: ObjectHash) => {
      asked.push(h);
      return (await source.getBytes(h))!;
    };
    const target = new ObjectStore(join(dir, 'target'));
    await target.putBytes((await source.getBytes(b))!, b);
    for (const h of [4, 5]) await target.put({ kind: 'file', size: 1, chunks: [{ hash: String(h).repeat(64) as never, size: 1 }] });
    // A failure below "a" leaves neither "a" nor the root stored: the next walk starts again there.
    const f2 = await file(2);
    const failing = async (h: ObjectHash) => {
      if (h === f2) throw new Error('peer gone');
      return request(h);
    };
    await expect(fetchObjects(root, target, failing, 2)).rejects.toThrow(/peer gone/);
    expect(new ObjectStore(join(dir, 'target')).has(a)).toBe(false);
    expect(new ObjectStore(join(dir, 'target')).has(root)).toBe(false);
    asked.length = 0;
    const got = await fetchObjects(root, new ObjectStore(join(dir, 'target')), request, 2);
    expect(asked).not.toContain(b);
    expect(got.fetched).toBe(asked.length);
    const fresh = new ObjectStore(join(dir, 'target'));
    for (const h of [root, a, ...(await Promise.all([1, 2, 3].map(file)))]) expect(fresh.has(h)).toBe(true);
  });
  it('fetches an object shared by many paths once', async () => {
    const dir = await tempDir('cs-fetch-');
    const source = new ObjectStore(join(dir, 'source'));
    const T = 1;
    let level = await source.put({ kind: 'tree', entries: [{ name: 'f', type: 'file', mode: 0o644, mtime: T, hash: await source.put({ kind: 'file', size: 0, chunks: [] }) }] });
    const all = [level];
    // Each level's 8 entries all name the level below: 8^5 paths, 7 distinct objects.
    for (let depth = 0; depth < 5; depth++) {
      level = await source.put({ kind: 'tree', entries: Array.from({ length: 8 }, (_, i) => ({ name: `d${i}`, type: 'dir' as const, mode: 0o755, mtime: T, hash: level })) });
      all.push(level);
    }
    const asked: string[] = [];
    const target = new ObjectStore(join(dir, 'target'));
    const got = await fetchObjects(level, target, async (h) => {
      asked.push(h);
      return (await source.getBytes(h))!;
    }, 4);
    expect(got.fetched).toBe(7);
    expect(new Set(asked).size).toBe(asked.length);
    for (const h of all) expect(target.has(h)).toBe(true);
  });
});

describe('InodeCache', () => {
  it('keeps vouching for an inode across our own unlink of another of its links, and drops a changed one', async () => {
    const dir = await tempDir('cs-inode-');
    const kept = join(dir, 'kept');
    await writeFile(kept, 'content\n');
    const old = new Date(Date.now() - 3600_000);
    await utimes(kept, old, old);
    await mkdir(join(dir, 'release'));
    await link(kept, join(dir, 'release', 'a'));
    const cache = await InodeCache.open(dir);
    const h = 'c'.repeat(64) as ObjectHash;
    cache.remember(await lstat(kept), h);
    // Removing a release moves the ctime of every inode it shares: the entry follows it.
    await new Promise((r) => setTimeout(r, 20));
    await removeTree(join(dir, 'release'), { cache });
    expect(cache.hashOf(await lstat(kept))).toBe(h);
    await cache.save();
    expect((await InodeCache.open(dir)).hashOf(await lstat(kept))).toBe(h);
    // An edit that puts size and mtime back still moves ctime.
    await writeFile(kept, 'CONTENT\n');
    await utimes(kept, old, old);
    expect(cache.hashOf(await lstat(kept))).toBeNull();
  });
});

describe('StatCache', () => {
  const key = { size: 10, mtimeMs: 1000, ctimeMs: 1000, ino: 7 };
  const h = 'a'.repeat(64) as ObjectHash;

  it('vouches only for an identical fingerprint and survives a reload', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    const c = new StatCache(p);
    c.set('x', key, h);
    await c.save();
    const back = await new StatCache(p).load();
    expect(back.lookup('x', key)).toBe(h);
    expect(back.lookup('x', { ...key, ctimeMs: 1001 })).toBeNull();
    expect(back.lookup('x', { ...key, size: 11 })).toBeNull();
    expect(back.lookup('y', key)).toBeNull();
  });

  it('compares every field exactly, fractions of a millisecond too, across a save and a reload', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    const fine = { size: 4096, mtimeMs: 1764751234567.1234, ctimeMs: 1764751234999.5, ino: 2 ** 40 + 3 };
    const c = new StatCache(p);
    c.set('f', fine, h);
    c.set('g', key, h);
    await c.save();
    const back = await new StatCache(p).load();
    expect(back.lookup('f', { ...fine })).toBe(h);
    for (const field of ['size', 'mtimeMs', 'ctimeMs', 'ino'] as const) {
      expect(back.lookup('f', { ...fine, [field]: field === 'mtimeMs' || field === 'ctimeMs' ? fine[field] + 0.001 : fine[field] + 1 })).toBeNull();
    }
    back.delete('g');
    await back.save();
    const again = await new StatCache(p).load();
    expect(again.lookup('f', fine)).toBe(h);
    expect(again.lookup('g', key)).toBeNull();
  });

  it('never vouches with an entry whose line is not one, and keeps the others', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    await writeFile(p, ['chunkswarm-stat-cache 1', 'bad', 'garbage', 'good', `10:1000:1000:7:${h}`].join('\0'));
    const c = await new StatCache(p).load();
    expect(c.lookup('bad', key)).toBeNull();
    expect(c.lookup('good', key)).toBe(h);
  });

  it('never vouches with a fingerprint field missing or not a number, and reuses the slots of deleted entries', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    const values = [`:1000:1000:7:${h}`, `10:1000::7:${h}`, `10:1000:1000:x:${h}`, `10:1000:1000:7:${h}a`, `10:1000:1000:7`];
    await writeFile(p, ['chunkswarm-stat-cache 1', ...values.flatMap((v, i) => [`bad-${i}`, v]), 'good', `10:1000:1000:7:${h}`, ''].join('\0'));
    const c = await new StatCache(p).load();
    expect(values.map((_, i) => c.lookup(`bad-${i}`, key))).toEqual(values.map(() => null));
    expect(c.lookup('bad-2', { ...key, ino: NaN })).toBeNull();
    expect(c.lookup('good', key)).toBe(h);
    const other = 'b'.repeat(64) as ObjectHash;
    for (let i = 0; i < 100; i++) c.set(`f${i}`, { ...key, ino: i }, i % 2 ? h : other);
    for (let i = 0; i < 100; i += 3) c.delete(`f${i}`);
    for (let i = 100; i < 150; i++) c.set(`f${i}`, { ...key, ino: i }, i % 2 ? h : other);
    await c.save();
    const back = await new StatCache(p).load();
    for (const cache of [c, back]) {
      for (let i = 0; i < 150; i++) {
        expect(cache.lookup(`f${i}`, { ...key, ino: i })).toBe(i < 100 && i % 3 === 0 ? null : i % 2 ? h : other);
      }
    }
  });

  it('keeps paths that are not ASCII, whether written whole or appended in a batch', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    const c = new StatCache(p);
    c.set('dir/ünïcode-名前.txt', key, h);
    await c.save();
    const other = 'c'.repeat(64) as ObjectHash;
    c.set('dir/émoji-🙂', { ...key, ino: 8 }, other);
    await c.save();
    const back = await new StatCache(p).load();
    expect(back.lookup('dir/ünïcode-名前.txt', key)).toBe(h);
    expect(back.lookup('dir/émoji-🙂', { ...key, ino: 8 })).toBe(other);
    expect(back.lookup('dir/emoji-🙂', { ...key, ino: 8 })).toBeNull();
  });

  it('does not remember files changed inside the racy window', () => {
    const c = new StatCache('/nonexistent');
    c.set('x', key, h, 1000);
    expect(c.lookup('x', key)).toBeNull();
    c.set('x', key, h, 1001);
    expect(c.lookup('x', key)).toBe(h);
  });

  /** A cache of `n` files saved whole, and the size of that file. */
  async function savedCache(n: number): Promise<{ p: string; c: StatCache; whole: number }> {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    const c = new StatCache(p);
    for (let i = 0; i < n; i++) c.set(`dir/file-${i}`, { ...key, ino: i }, h);
    await c.save();
    return { p, c, whole: (await readFile(p)).length };
  }

  it('appends what changed since the last save, and a reload sees every batch, deletions included', async () => {
    const { p, c, whole } = await savedCache(200);
    c.set('dir/file-7', { ...key, ino: 7, size: 11 }, h);
    c.delete('dir/file-8');
    await c.save();
    await c.save(); // nothing changed: nothing written
    const grown = (await readFile(p)).length;
    expect(grown).toBeGreaterThan(whole);
    expect(grown - whole).toBeLessThan(300);
    const back = await new StatCache(p).load();
    expect(back.lookup('dir/file-7', { ...key, ino: 7, size: 11 })).toBe(h);
    expect(back.lookup('dir/file-7', { ...key, ino: 7 })).toBeNull();
    expect(back.lookup('dir/file-8', { ...key, ino: 8 })).toBeNull();
    expect(back.lookup('dir/file-199', { ...key, ino: 199 })).toBe(h);
  });

  it('ignores a batch torn by a crash and writes the file whole at the next save', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    const c = new StatCache(p);
    c.set('kept', key, h);
    await c.save();
    c.set('first', key, h);
    await c.save();
    const beforeTorn = (await readFile(p)).length;
    c.set('torn', key, h);
    c.delete('kept');
    await c.save();
    const bytes = await readFile(p);
    for (const cut of [beforeTorn + 3, bytes.length - 5, bytes.length - 3]) {
      await writeFile(p, bytes.subarray(0, cut));
      const back = await new StatCache(p).load();
      expect(back.lookup('first', key)).toBe(h);
      expect(back.lookup('kept', key)).toBe(h);
      expect(back.lookup('torn', key)).toBeNull();
      back.set('after', key, h);
      await back.save();
      const text = (await readFile(p)).toString('latin1');
      expect(text.includes('torn')).toBe(false);
      const again = await new StatCache(p).load();
      expect([again.lookup('after', key), again.lookup('kept', key), again.lookup('torn', key)]).toEqual([h, h, null]);
    }
  });

  it('writes the file whole when it was removed since the last save, never a batch alone', async () => {
    const dirPath = await tempDir('cs-sc-');
    const p = join(dirPath, 'cache.json');
    const c = new StatCache(p);
    c.set('a', key, h);
    await c.save();
    await rm(p);
    c.set('b', key, h);
    await c.save();
    const back = await new StatCache(p).load();
    expect([back.lookup('a', key), back.lookup('b', key)]).toEqual([h, h]);
  });

  it('rewrites the file once the batches would double it', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    const c = new StatCache(p);
    c.set('a', key, h);
    await c.save();
    for (let i = 0; i < 2000; i++) {
      c.set('a', { ...key, size: i }, h);
      await c.save();
    }
    const size = (await readFile(p)).length;
    expect(size).toBeLessThan(3 * (64 << 10));
    expect((await new StatCache(p).load()).lookup('a', { ...key, size: 1999 })).toBe(h);
  });

  it('counts the batches a reload finds against the whole write: restarts do not let the file double again', async () => {
    const { p, whole } = await savedCache(2000);
    expect(whole).toBeGreaterThan(64 << 10);
    let largest = whole;
    let rewrites = 0;
    for (let round = 0; round < 100; round++) {
      // A restart before every save.
      const c = await new StatCache(p).load();
      for (let i = round * 50; i < round * 50 + 50; i++) c.set(`dir/file-${i % 2000}`, { ...key, ino: i % 2000, size: 1000 + round }, h);
      const before = (await readFile(p)).length;
      await c.save();
      const after = (await readFile(p)).length;
      if (after < before) rewrites++;
      largest = Math.max(largest, after);
    }
    expect(rewrites).toBeGreaterThan(0);
    expect(largest).toBeLessThan(2 * whole + 8192);
    const back = await new StatCache(p).load();
    expect(back.lookup('dir/file-1999', { ...key, ino: 1999, size: 1079 })).toBe(h);
    expect(back.lookup('dir/file-0', { ...key, ino: 0, size: 1080 })).toBe(h);
  });

  it('retries a full write that failed: what it was to write is not dropped', async () => {
    const dirPath = join(await tempDir('cs-sc-'), 'cache');
    await mkdir(dirPath);
    const p = join(dirPath, 'cache.json');
    const c = new StatCache(p);
    for (let i = 0; i < 2000; i++) c.set(`f${i}`, { ...key, ino: i }, h);
    await c.save();
    c.set('one-more', key, h);
    await c.save();
    // Every entry changed: with the batch before, more than the file's size, so the save writes it whole, and fails.
    for (let i = 0; i < 2000; i++) c.set(`f${i}`, { ...key, ino: i, size: 11 }, h);
    await rm(dirPath, { recursive: true });
    await expect(c.save()).rejects.toThrow();
    await mkdir(dirPath);
    await c.save();
    expect((await new StatCache(p).load()).lookup('f1999', { ...key, ino: 1999, size: 11 })).toBe(h);
  });

  it('reads a cache written without a final NUL (the earlier layout) and writes it whole next time', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    await writeFile(p, ['chunkswarm-stat-cache 1', 'old', `10:1000:1000:7:${h}`].join('\0'));
    const c = await new StatCache(p).load();
    expect(c.lookup('old', key)).toBe(h);
    c.set('new', key, h);
    await c.save();
    const back = await new StatCache(p).load();
    expect([back.lookup('old', key), back.lookup('new', key)]).toEqual([h, h]);
  });

  it('keeps paths that are not ASCII, and entries set again after others were deleted, across a reload', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    const c = new StatCache(p);
    const other = 'b'.repeat(64) as ObjectHash;
    for (let i = 0; i < 3000; i++) c.set(`dir/é-${i}`, { ...key, ino: i }, h);
    for (let i = 0; i < 3000; i += 2) c.delete(`dir/é-${i}`);
    for (let i = 0; i < 1000; i++) c.set(`new/日本-${i}`, { ...key, ino: 10_000 + i }, other);
    await c.save();
    const back = await new StatCache(p).load();
    expect(back.lookup('dir/é-1', { ...key, ino: 1 })).toBe(h);
    expect(back.lookup('dir/é-2', { ...key, ino: 2 })).toBeNull();
    expect(back.lookup('dir/é-2999', { ...key, ino: 2999 })).toBe(h);
    expect(back.lookup('new/日本-999', { ...key, ino: 10_999 })).toBe(other);
    expect(back.lookup('new/日本-999', { ...key, ino: 10_998 })).toBeNull();
  });

  it('treats a damaged cache file as empty', async () => {
    const p = join(await tempDir('cs-sc-'), 'cache.json');
    await writeFile(p, '{not json');
    expect((await new StatCache(p).load()).lookup('x', key)).toBeNull();
  });
});

describe('atomicWrite and removeTree', () => {
  it('leaves no temp file behind and removes read-only trees', async () => {
    const dir = await tempDir('cs-aw-');
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

describe('ObjectJournal files', () => {
  const treeOf = (n: number, entries = 1): TreeObject => ({
    kind: 'tree',
    entries: Array.from({ length: entries }, (_, i) => ({ name: `e${String(i).padStart(4, '0')}`, type: 'symlink' as const, mode: 0o777, mtime: n, target: `t${n}` })),
  });
  const journals = (dir: string) => readdirSync(join(dir, 'journal')).filter((n) => n.endsWith('.journal')).sort();
  /** A journal as another process wrote it: `pid` in its name, records of these objects. */
  const foreign = async (dir: string, pid: number, objs: TreeObject[]) => {
    const name = `${pid}-${Math.round(performance.timeOrigin * 1000) - 1000}-0badf00d.journal`;
    await mkdir(join(dir, 'journal'), { recursive: true });
    await writeFile(join(dir, 'journal', name), Buffer.concat(objs.map((o) => encodeRecord(objectHash(encodeObject(o)), encodeObject(o)))));
    return name;
  };

  it('reads a journal a window at a time: records larger than the window, and never a torn one at the end', async () => {
    const dir = await tempDir('cs-obj-');
    const objs = [treeOf(1), treeOf(2, 40), treeOf(3), treeOf(4, 3)];
    const recs = objs.map((o) => encodeRecord(objectHash(encodeObject(o)), encodeObject(o)));
    const whole = Buffer.concat(recs);
    const path = join(dir, 'j');
    await writeFile(path, Buffer.concat([whole, recs[0]!.subarray(0, recs[0]!.length - 1)]));
    const fd = openSync(path, 'r');
    try {
      for (const window of [8, 64, 100, 1 << 20]) {
        const seen: Array<[string, number, string]> = [];
        const end = eachFileRecord(fd, 0, (hash, at, rec) => seen.push([hash, at, rec.toString('hex')]), window);
        expect(end, `window ${window}`).toBe(whole.length);
        let at = 0;
        expect(seen).toEqual(recs.map((r, i) => {
          const row: [string, number, string] = [objectHash(encodeObject(objs[i]!)), at, r.toString('hex')];
          at += r.length;
          return row;
        }));
      }
      // From the middle, as a scan of what was appended since.
      const tail: string[] = [];
      expect(eachFileRecord(fd, recs[0]!.length, (hash) => tail.push(hash), 64)).toBe(whole.length);
      expect(tail).toHaveLength(3);
    } finally {
      closeSync(fd);
    }
  });

  it('compacts the files no live writer appends to, keeping the objects it is told, and the stores of this process read on', async () => {
    const dir = await tempDir('cs-obj-');
    const a = new ObjectStore(dir);
    const objs = [1, 2, 3, 4].map((n) => treeOf(n));
    const [h1, h2, h3, h4] = await Promise.all(objs.map((o) => a.put(o)));
    // h1 again, newer: the copy read is the one kept.
    const dead = await foreign(dir, 2 ** 22 + 12345, [treeOf(5), objs[0]!]);
    const alive = await foreign(dir, process.ppid, [treeOf(6)]);
    const h5 = objectHash(encodeObject(treeOf(5)));
    const h6 = objectHash(encodeObject(treeOf(6)));
    // Another store of this process writes to a file of its own, and has read h1 from a's.
    const b = new ObjectStore(dir);
    expect(await b.getTree(h1!)).toEqual(objs[0]);
    const h7 = await b.put(treeOf(7));
    a.close();
    const before = journals(dir);
    expect(before).toHaveLength(4);
    expect(before).toContain(dead);

    const done = a.compact(new Set([h1!, h3!, h5, h6, h7]))!;
    expect(done).toMatchObject({ files: 2, kept: 3, dropped: 2 });
    const after = journals(dir);
    // The dead process's file and a's own went; the live process's and b's stayed; one file is new.
    expect(after).not.toContain(dead);
    expect(after).toContain(alive);
    expect(after).toHaveLength(3);
    expect(done.bytesAfter).toBeLessThan(done.bytesBefore);
    expect(a.journalKeptBytes()).toBe(done.bytesAfter);

    const fresh = new ObjectStore(dir);
    for (const [h, o] of [[h1, objs[0]], [h3, objs[2]], [h5, treeOf(5)], [h6, treeOf(6)], [h7, treeOf(7)]] as const) {
      expect(await fresh.getTree(h!), h).toEqual(o);
    }
    expect(fresh.has(h2!) || fresh.has(h4!)).toBe(false);
    expect(await fresh.getBytes(h2!)).toBeNull();
    // b was told: it reads h1 from the new file (its reader of the old one dropped), and goes on writing its own.
    b.trim();
    expect(await b.getTree(h1!)).toEqual(objs[0]);
    expect(b.has(h2!)).toBe(false);
    const h8 = await b.put(treeOf(8));
    // a appends after what it kept.
    const h9 = await a.put(treeOf(9));
    a.close();
    b.close();
    const last = new ObjectStore(dir);
    expect(await last.getTree(h8)).toEqual(treeOf(8));
    expect(await last.getTree(h9)).toEqual(treeOf(9));
  });

  it('compacts nothing while a fetch into the store runs', async () => {
    const dir = await tempDir('cs-obj-');
    const a = new ObjectStore(dir);
    const h = await a.put(treeOf(1));
    let during: unknown = 'not run';
    await a.fetching(async () => {
      during = a.compact(new Set());
    });
    expect(during).toBeNull();
    expect(await new ObjectStore(dir).getTree(h)).toEqual(treeOf(1));
    expect(a.compact(new Set())).toMatchObject({ files: 1, kept: 0, dropped: 1 });
    expect(await new ObjectStore(dir).getBytes(h)).toBeNull();
  });

  it('closes the files it holds open, and opens them again when used', async () => {
    const dir = await tempDir('cs-obj-');
    const open = () => openFdsUnder(join(dir, 'journal')).length;
    const a = new ObjectStore(dir);
    const h = await a.put(treeOf(1));
    const reader = new ObjectStore(dir);
    expect(await reader.getTree(h)).toEqual(treeOf(1));
    expect(open()).toBe(2);
    a.close();
    reader.close();
    expect(open()).toBe(0);
    const h2 = await a.put(treeOf(2));
    reader.trim();
    expect(await reader.getTree(h)).toEqual(treeOf(1));
    expect(await new ObjectStore(dir).getTree(h2)).toEqual(treeOf(2));
    // A compaction by a third store: the closed stores open nothing until they are used again.
    a.close();
    reader.close();
    const compactor = new ObjectStore(dir);
    expect(compactor.compact(new Set([h, h2]))).toMatchObject({ kept: 2 });
    expect(open()).toBe(1);
    compactor.close();
    expect(open()).toBe(0);
    expect(reader.has(h2)).toBe(true);
    expect(await reader.getTree(h2)).toEqual(treeOf(2));
  });
});
