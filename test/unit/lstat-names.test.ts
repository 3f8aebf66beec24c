/**
 * lstatNames (core/lstat-names.ts): the lstat of names relative to their directory gives what the
 * lstat of each full path gives, never follows a symlink, leaves the working directory as it was,
 * and gives up (null) rather than answer for another directory.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lstatNames } from '../../src/core/index.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-lstat-names-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub/a.txt'), 'aaa');
  writeFileSync(join(dir, 'sub/b.txt'), 'bbbbbb');
  mkdirSync(join(dir, 'sub/inner'));
  symlinkSync('../..', join(dir, 'sub/up'));
  mkdirSync(join(dir, 'other'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const summary = (st: ReturnType<typeof lstatSync> | undefined) =>
  st && { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, link: st.isSymbolicLink(), dir: st.isDirectory() };

describe('lstatNames', () => {
  it('gives each name what its full path gives, undefined for a name not there, a symlink as itself', () => {
    const names = ['a.txt', 'b.txt', 'inner', 'up', 'gone.txt'];
    const home = process.cwd();
    const got = lstatNames(join(dir, 'sub'), names, lstatSync(join(dir, 'sub')));
    expect(process.cwd()).toBe(home);
    expect(got).not.toBeNull();
    expect(got!.map(summary)).toEqual(names.map((n) => summary(lstatSync(join(dir, 'sub', n), { throwIfNoEntry: false }))));
    expect(got![3]!.isSymbolicLink()).toBe(true);
    expect(got![4]).toBeUndefined();
  });

  it('answers null, the working directory unchanged, for a directory that is not the one expected or not there', () => {
    const home = process.cwd();
    expect(lstatNames(join(dir, 'sub'), ['a.txt'], lstatSync(join(dir, 'other')))).toBeNull();
    expect(process.cwd()).toBe(home);
    expect(lstatNames(join(dir, 'missing'), ['a.txt'])).toBeNull();
    expect(lstatNames(join(dir, 'sub/a.txt'), ['x'])).toBeNull();
    expect(process.cwd()).toBe(home);
  });
});
