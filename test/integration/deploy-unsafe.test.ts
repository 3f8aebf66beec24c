import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstat, mkdir, open, readdir, readFile, readlink, rm, stat, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkIndex } from '../../src/store/index.js';
import { pseudoRandom } from '../support/tree.js';
import { Craft, T, codeOf } from './deploy-craft.js';

/** Releases crafted object by object, staged in-process on real files. */
let k: Craft;

beforeEach(async () => {
  k = await Craft.create('cs-deploy-unsafe-');
});

afterEach(async () => {
  await rm(k.dir, { recursive: true, force: true });
});

describe('staging refuses what a crafted release or a planted file could abuse', () => {
  it('refuses a hard-link group joining different contents (one inode cannot be both)', async () => {
    const root = await k.tree([await k.file('a', Buffer.from('public\n'), { link: 1 }), await k.file('b', Buffer.from('secret\n'), { link: 1 })]);
    expect(await codeOf(k.open(k.release(1, root)))).toBe('E_BAD_OBJECT');
    expect(await k.releases.materialized()).toEqual([]);
  });

  it('refuses a path deeper than PATH_MAX before writing anything', async () => {
    let e = await k.file('leaf', Buffer.from('x'));
    for (let i = 0; i < 17; i++) e = await k.dir_(`${String(i).padStart(3, '0')}${'d'.repeat(247)}`, [e]);
    expect(await codeOf(k.open(k.release(1, await k.tree([e]))))).toBe('E_UNSAFE_PATH');
    expect(await readdir(k.releases.stagingDir)).toEqual([]);
  });

  it('never writes through a symlink planted in the staging area, and starts clean on the next open', async () => {
    const victim = join(k.dir, 'victim');
    await mkdir(victim);
    const r = k.release(1, await k.tree([await k.dir_('etc', [await k.file('passwd', Buffer.from('root:x:0:0\n'))])]));
    await (await k.open(r)).close();
    const staged = join(k.releases.stagingPath(1), 'etc');
    await rm(staged, { recursive: true });
    await symlink(victim, staged);
    expect(await codeOf(k.open(r))).toBe('E_UNSAFE_PATH');
    expect(await readdir(victim)).toEqual([]);
    const final = await k.finish(await k.open(r));
    expect(await readFile(join(final, 'etc/passwd'), 'utf8')).toBe('root:x:0:0\n');
    expect((await lstat(join(final, 'etc'))).isDirectory()).toBe(true);
    expect(await readdir(victim)).toEqual([]);
  });

  it('creates hostile symlink targets verbatim, last, and never follows them', async () => {
    const outside = join(k.dir, 'outside');
    await mkdir(outside);
    const root = await k.tree([
      { name: 'abs', type: 'symlink', mode: 0o777, mtime: T, target: outside },
      await k.dir_('d', [await k.file('f', Buffer.from('inside\n'))]),
      { name: 'up', type: 'symlink', mode: 0o777, mtime: T, target: '../../../../../../etc/passwd' },
    ]);
    const final = await k.finish(await k.open(k.release(1, root)));
    expect(await readlink(join(final, 'abs'))).toBe(outside);
    expect(await readlink(join(final, 'up'))).toBe('../../../../../../etc/passwd');
    expect(await readdir(outside)).toEqual([]);
  });

  it('a donor file edited on disk (size, mtime and mode kept) is not linked, not read, and never spreads', async () => {
    const original = pseudoRandom(100_000, 3);
    const a = await k.file('a.bin', original);
    const v1 = k.release(1, await k.tree([a]));
    await k.finish(await k.open(v1));
    await k.releases.saveHead(v1);
    const donor = join(k.releases.releasePath(1), 'a.bin');
    const fh = await open(donor, 'r+');
    await fh.write(Buffer.from('TAMPERED'), 0, 8, 5000);
    await fh.close();
    await utimes(donor, T / 1000, T / 1000);

    const fresh = new ChunkIndex({ releases: k.releases, objects: k.objects });
    const first = (await k.objects.getFile(a.hash!)).chunks[0]!;
    expect(await fresh.readChunk(first.hash)).toBeNull();
    expect(fresh.tampered).toBe(1);

    // Only ctime tells: the inode cache no longer vouches for it, and hashing it shows the edit.
    const v2 = k.release(2, await k.tree([a, await k.file('b.txt', Buffer.from('new\n'))]));
    const s = await k.open(v2, 1);
    expect(s.actions.find((f) => f.path === 'a.bin')!.kind).toBe('write');
    const fetched = s.missing().flatMap((i) => s.pieces[i]!.chunks.map((c) => c.hash));
    expect(fetched).toEqual(expect.arrayContaining((await k.objects.getFile(a.hash!)).chunks.map((c) => c.hash)));
    const final = await k.finish(s);
    expect((await readFile(join(final, 'a.bin'))).equals(original)).toBe(true);
    expect((await stat(join(final, 'a.bin'))).ino).not.toBe((await stat(donor)).ino);
  });
});
