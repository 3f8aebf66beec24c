import { describe, expect, it } from 'vitest';
import { DonorTable } from '../../src/deploy/index.js';

const files = [{ path: 'etc/app.conf' }, { path: 'bin/tool' }, { path: 'lib/moved.so' }];
const stat = (dev: number, ino: number, size = 10, mtimeMs = 1_000.5) => ({ dev, ino, size, mtimeMs, ctimeMs: 2_000 });

describe('DonorTable', () => {
  it('gives each donor its absolute path: the file\'s own path in its directory, or where it was found by content', () => {
    const t = new DonorTable(files);
    t.set(0, '/data/releases/1', stat(1, 10), { linked: true });
    t.set(2, '/data/releases/2', stat(1, 12), { path: 'lib/old-name.so', linked: true });
    expect([0, 1, 2].map((i) => t.has(i))).toEqual([true, false, true]);
    expect(t.from(0)).toBe('/data/releases/1/etc/app.conf');
    expect(t.from(2)).toBe('/data/releases/2/lib/old-name.so');
    expect(t.inode(2)).toBe('1:12');
  });

  it('knows a donor found again in its own place, which is not linked', () => {
    const t = new DonorTable(files);
    t.set(1, '/data/staging/4', { dev: 3, ino: 7 }, { linked: false });
    t.set(0, '/data/releases/1', stat(3, 8), { linked: true });
    expect([t.mustLink(0), t.mustLink(1)]).toEqual([true, false]);
    expect(t.from(1)).toBe('/data/staging/4/bin/tool');
    // Set again (a second round of planning): the later finding wins, the others stay.
    t.set(0, '/data/releases/2', stat(3, 9), { linked: true });
    expect([0, 1, 2].map((i) => t.has(i))).toEqual([true, true, false]);
    expect(t.inode(0)).toBe('3:9');
  });

  it('says an inode is unchanged only in the exact state it was found in', () => {
    const t = new DonorTable(files);
    t.set(0, '/r', stat(1, 10, 100, 5_000.25), { linked: true });
    expect(t.unchanged(0, stat(1, 10, 100, 5_000.25))).toBe(true);
    expect(t.unchanged(0, stat(1, 10, 101, 5_000.25))).toBe(false);
    expect(t.unchanged(0, stat(1, 10, 100, 5_000.5))).toBe(false);
    expect(t.unchanged(0, stat(1, 11, 100, 5_000.25))).toBe(false);
    expect(t.unchanged(0, stat(2, 10, 100, 5_000.25))).toBe(false);
    // Taken on another check's word: no size or mtime to compare, never "unchanged".
    t.set(1, '/r', { dev: 1, ino: 20 }, { linked: false });
    expect(t.unchanged(1, stat(1, 20))).toBe(false);
  });

  it('gives distinct inodes distinct keys, also past the range of one number', () => {
    const t = new DonorTable([{ path: 'a' }, { path: 'b' }, { path: 'c' }, { path: 'd' }]);
    t.set(0, '/r', stat(2049, 5), { linked: true });
    t.set(1, '/r', stat(2050, 5), { linked: true });
    t.set(2, '/r', stat(2049, 2 ** 40 + 5), { linked: true });
    t.set(3, '/r', stat(2049, 5), { linked: true });
    const keys = [0, 1, 2, 3].map((i) => t.inodeId(i));
    expect(new Set(keys).size).toBe(3);
    expect(keys[0]).toBe(keys[3]);
    expect(keys[2]).toBe(`2049:${2 ** 40 + 5}`);
  });
});
