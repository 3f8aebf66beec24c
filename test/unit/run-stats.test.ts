/**
 * RunStats (deploy/run-stats.ts): the lstat of a tree's files taken a directory's run at a time
 * gives each file what its own lstat gives, also where a directory's files are split by a
 * subdirectory, where one is missing, and when asked out of order.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStats } from '../../src/deploy/run-stats.js';

let dir: string;
// A release's file list in walk order: a's files are split by a/b, and a/gone.txt is not on disk.
const paths = ['a/0.txt', 'a/b/1.txt', 'a/b/2.txt', 'a/c.txt', 'a/gone.txt', 'a/link', 'top.txt'];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-run-stats-'));
  mkdirSync(join(dir, 'a/b'), { recursive: true });
  for (const p of paths) if (p !== 'a/gone.txt' && p !== 'a/link') writeFileSync(join(dir, p), p.repeat(3));
  symlinkSync('../top.txt', join(dir, 'a/link'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ino = (st: ReturnType<typeof lstatSync> | null | undefined) => (st ? `${st.ino}:${st.size}:${st.isSymbolicLink()}` : st);
const expected = (i: number) => ino(lstatSync(join(dir, paths[i]!), { throwIfNoEntry: false }) ?? null);

describe('RunStats', () => {
  it('gives every file its own lstat, in order and out of it', () => {
    const runs = new RunStats(dir, paths.map((path) => ({ path })));
    expect(paths.map((_p, i) => ino(runs.at(i)))).toEqual(paths.map((_p, i) => expected(i)));
    expect(runs.at(4)).toBeNull();
    expect(runs.at(5)!.isSymbolicLink()).toBe(true);
    for (const i of [6, 0, 3, 1, 5, 2]) expect(ino(runs.at(i))).toEqual(expected(i));
  });

  it('takes no lstat of a file it is told to skip, unless that file is the one asked for', () => {
    const runs = new RunStats(dir, paths.map((path) => ({ path })), (p) => p === 'a/b/2.txt' || p === 'a/c.txt');
    expect(ino(runs.at(0))).toEqual(expected(0));
    expect(ino(runs.at(1))).toEqual(expected(1));
    expect(runs.at(2)).toBeUndefined();
    expect(ino(runs.at(3))).toEqual(expected(3));
    expect(runs.at(5)!.isSymbolicLink()).toBe(true);
    expect(ino(new RunStats(dir, paths.map((path) => ({ path })), () => true).at(2))).toEqual(expected(2));
  });

  it('leaves to the caller (undefined) a run whose directory cannot be entered', () => {
    rmSync(join(dir, 'a/b'), { recursive: true });
    writeFileSync(join(dir, 'a/b'), 'a file where the directory was');
    const runs = new RunStats(dir, paths.map((path) => ({ path })));
    expect(runs.at(1)).toBeUndefined();
    expect(runs.at(2)).toBeUndefined();
    expect(ino(runs.at(3))).toEqual(expected(3));
  });
});
