/**
 * InPlaceStats (deploy/in-place-stats.ts): each file of a release gets the lstat its full path
 * gives, taken a directory at a time, once; null for a file that is not there; undefined (the
 * caller looks for itself) where its directory cannot be read so, and when asked again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InPlaceStats } from '../../src/deploy/in-place-stats.js';
import type { TreeEntry } from '../../src/manifest/index.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-in-place-stats-'));
  mkdirSync(join(dir, 'a/b'), { recursive: true });
  writeFileSync(join(dir, 'top'), 't');
  writeFileSync(join(dir, 'a/one'), '11');
  writeFileSync(join(dir, 'a/b/two'), '222');
  writeFileSync(join(dir, 'a/three'), '3333');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const file = (path: string) => ({ path, entry: { name: path.split('/').pop()!, type: 'file', mode: 0o644, mtime: 0 } as TreeEntry });

describe('InPlaceStats', () => {
  it('gives each file what its full path gives, once, and null for one not there', () => {
    const files = ['a/b/two', 'a/gone', 'a/one', 'a/three', 'top'].map(file);
    const stats = new InPlaceStats(dir, files);
    files.forEach((f, i) => {
      const want = lstatSync(join(dir, f.path), { throwIfNoEntry: false }) ?? null;
      const got = stats.take(i);
      expect([f.path, got?.ino, got?.size]).toEqual([f.path, want?.ino, want?.size]);
      if (want === null) expect(got).toBeNull();
    });
    // Asked again: the caller looks for itself.
    expect(stats.take(2)).toBeUndefined();
  });

  it('leaves the files of a directory it cannot read so to the caller', () => {
    const files = ['a/b/two', 'a/one'].map(file);
    const stats = new InPlaceStats(dir, files);
    rmSync(join(dir, 'a/b'), { recursive: true });
    expect(stats.take(0)).toBeUndefined();
    expect(stats.take(1)?.size).toBe(2);
  });
});
