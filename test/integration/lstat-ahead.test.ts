/**
 * A check of a large tree lstats on two threads (core/lstat-ahead.ts): the walk from the first
 * directory, a helper thread from the last. What the walk sees must not depend on it: the same
 * numbers as lstat, the same drift found by verify, and where the helper cannot run, the walk does
 * it all. The helper runs the built modules (dist/), as `serve` does: a worker cannot load TypeScript.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod, rename, rm, unlink, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LstatAhead as SourceLstatAhead, type EntryStat, type LstatJob } from '../../src/core/index.js';
import type { lstatAheadOf as LstatAheadOf, verifyTree as VerifyTree, VerifyResult } from '../../src/deploy/index.js';
import type { scanSource as ScanSource, ScannedNode } from '../../src/admin/scan-source.js';
import { InodeCache, ObjectStore } from '../../src/store/index.js';
import type { ObjectHash } from '../../src/core/index.js';
import { snapshotTree } from '../support/release-snapshot.js';

const run = promisify(execFile);
const built = (path: string) => import(pathToFileURL(resolve('dist/src', path)).href);
const { LstatAhead } = (await built('core/index.js')) as { LstatAhead: typeof SourceLstatAhead };
const { verifyTree, lstatAheadOf } = (await built('deploy/index.js')) as { verifyTree: typeof VerifyTree; lstatAheadOf: typeof LstatAheadOf };
const { scanSource } = (await built('admin/scan-source.js')) as { scanSource: typeof ScanSource };

let dir: string;
let tree: string;
let jobs: LstatJob[];
const DIRS = 24;
const FILES = 40;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-lstat-ahead-'));
  tree = join(dir, 'tree');
  jobs = [{ dir: tree, names: [] }];
  const rootNames: string[] = [];
  for (let d = 0; d < DIRS; d++) {
    const name = `d${String(d).padStart(2, '0')}`;
    rootNames.push(name);
    const names: string[] = [];
    mkdirSync(join(tree, name), { recursive: true });
    for (let f = 0; f < FILES; f++) {
      writeFileSync(join(tree, name, `f${f}`), 'x'.repeat(f));
      names.push(`f${f}`);
    }
    symlinkSync('../elsewhere', join(tree, name, 'link'));
    mkdirSync(join(tree, name, 'sub'));
    names.push('link', 'sub', 'not-there');
    jobs.push({ dir: join(tree, name), names });
  }
  jobs[0] = { dir: tree, names: rootNames };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fields = (st: EntryStat | null | undefined) =>
  st && {
    mode: st.mode, dev: st.dev, ino: st.ino, nlink: st.nlink, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs,
    file: st.isFile(), dir: st.isDirectory(), link: st.isSymbolicLink(),
  };

/** Every job taken in order, as a walk does, with its directory's identity as the walk knows it. */
async function takeAll(helper: SourceLstatAhead) {
  const out = [];
  for (let i = 0; i < jobs.length; i++) out.push(await helper.take(i, lstatSync(jobs[i]!.dir)));
  await helper.close();
  return out;
}

const expected = () => jobs.map((j) => j.names.map((n) => fields(lstatSync(join(j.dir, n), { throwIfNoEntry: false }))));

describe('LstatAhead', () => {
  it('gives every name what lstat gives, a symlink as itself, undefined for a name not there, whichever thread took it', async () => {
    const helper = LstatAhead.start(jobs, 0)!;
    expect(helper).not.toBeNull();
    const got = await takeAll(helper);
    expect(got.map((s) => s!.map(fields))).toEqual(expected());
    expect(helper.helped).toBeGreaterThan(0);
    expect(got[DIRS]![FILES]!.isSymbolicLink()).toBe(true);
    expect(got[DIRS]![FILES + 2]).toBeUndefined();
  });

  it('answers null for a directory that is no longer the one the walk expects, on either thread', async () => {
    const helper = LstatAhead.start(jobs, 0)!;
    const other = lstatSync(jobs[1]!.dir);
    // Given time to answer its first batch: the last directories are the helper's by then.
    await new Promise((r) => setTimeout(r, 300));
    expect(await helper.take(0, other)).toBeNull();
    expect(await helper.take(jobs.length - 1, other)).toBeNull();
    expect(await helper.take(jobs.length - 2, lstatSync(jobs[jobs.length - 2]!.dir))).not.toBeNull();
    expect(helper.helped).toBe(2);
    await helper.close();
  });

  it('a thread kept for the next walk (or started ahead of one) serves it, and holds no process open', async () => {
    // In a process of its own: one kept thread per process, and its exit is what is looked at.
    const script = `
      const { LstatAhead } = await import(${JSON.stringify(pathToFileURL(resolve('dist/src/core/index.js')).href)});
      const jobs = ${JSON.stringify(jobs)};
      LstatAhead.warm(jobs.length, 0);
      let helped = 0;
      for (let walk = 0; walk < 2; walk++) {
        const h = LstatAhead.start(jobs, 0);
        await new Promise((r) => setTimeout(r, 200));
        for (let i = 0; i < jobs.length; i++) await h.take(i);
        helped += h.helped;
        await h.close();
      }
      console.log(JSON.stringify({ helped }));`;
    const started = Date.now();
    // A file, not --eval: worker threads inherit node's options, and --input-type is refused in a thread.
    const file = join(dir, 'two-walks.mjs');
    writeFileSync(file, script);
    const { stdout } = await run(process.execPath, [file], { timeout: 30_000 });
    expect(JSON.parse(stdout).helped).toBeGreaterThan(1);
    // A kept thread lives 60 s unless the process ends: it ended with its work.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('is not started for a walk under its size', () => {
    expect(LstatAhead.start(jobs, 100_000)).toBeNull();
    expect(LstatAhead.start(jobs.slice(0, 1), 0)).toBeNull();
  });

  it('where its thread cannot start (the TypeScript sources have no worker to load), the walk lstats everything itself, the same', async () => {
    const helper = SourceLstatAhead.start(jobs, 0)!;
    const got = await takeAll(helper);
    expect(got.map((s) => s!.map(fields))).toEqual(expected());
    expect(helper.helped).toBe(0);
  });
});

describe('verifyTree with the helper thread', () => {
  let objects: ObjectStore;
  let root: ObjectHash;

  const check = (helperFrom: number, cache = InodeCache.memory()): Promise<VerifyResult> =>
    verifyTree({ dir: join(dir, 'rel'), version: 1, root, objects, cache, deep: false, owner: false, helperFrom });
  const summary = (r: VerifyResult) => r.entries.map((e) => `${e.kind} ${e.path}`);

  beforeAll(async () => {
    objects = new ObjectStore(join(dir, 'objects'));
    const rel = join(dir, 'rel');
    for (let d = 0; d < DIRS; d++) {
      await mkdir(join(rel, `d${d}`), { recursive: true });
      for (let f = 0; f < FILES; f++) {
        await writeFile(join(rel, `d${d}/f${f}`), `file ${d}/${f}\n`);
        await chmod(join(rel, `d${d}/f${f}`), 0o444);
      }
      // Releases are read-only on disk; as root the test can still edit them, as a hand edit would.
      await chmod(join(rel, `d${d}`), 0o555);
    }
    root = await snapshotTree(objects, rel);
  });

  it('finds the same drift at both ends of the walk as a check on one thread, and none in a clean tree', async () => {
    expect(summary(await check(0))).toEqual([]);
    const rel = join(dir, 'rel');
    const old = new Date('2024-01-01T00:00:00Z');
    // The first directories are the walk's, the last the helper's.
    for (const d of [0, DIRS - 1, DIRS - 2]) {
      await chmod(join(rel, `d${d}/f1`), 0o644);
      await writeFile(join(rel, `d${d}/f1`), 'edited by hand\n');
      await unlink(join(rel, `d${d}/f2`));
      await writeFile(join(rel, `d${d}/stray`), 'added\n');
      await utimes(join(rel, `d${d}/f3`), old, old);
      await rm(join(rel, `d${d}/f4`));
      await mkdir(join(rel, `d${d}/f4`));
    }
    await rename(join(rel, `d${DIRS - 3}`), join(dir, 'moved-away'));
    const alone = await check(Number.POSITIVE_INFINITY);
    const helped = await check(0);
    expect(summary(helped)).toEqual(summary(alone));
    expect(helped.counts).toEqual(alone.counts);
    for (const d of [0, DIRS - 1]) {
      expect(summary(helped)).toEqual(expect.arrayContaining([`modified d${d}/f1`, `removed d${d}/f2`, `added d${d}/stray`, `meta d${d}/f3`, `type d${d}/f4`]));
    }
    expect(summary(helped)).toContain(`removed d${DIRS - 3}`);
  });
});

describe('a publish scan with the helper thread', () => {
  it('sees the source as it is, not as the newest release was, at both ends of the walk', async () => {
    const objects = new ObjectStore(join(dir, 'objects-scan'));
    const src = join(dir, 'src');
    for (let d = 0; d < DIRS; d++) {
      await mkdir(join(src, `d${d}`), { recursive: true });
      for (let f = 0; f < FILES; f++) await writeFile(join(src, `d${d}/f${f}`), `file ${d}/${f}\n`);
    }
    const root = await snapshotTree(objects, src);
    // Since that release: the first directories are the walk's, the last the helper's.
    for (const d of [0, DIRS - 1, DIRS - 2]) {
      await writeFile(join(src, `d${d}/f1`), 'edited, same names\n');
      await writeFile(join(src, `d${d}/new`), 'added\n');
      await unlink(join(src, `d${d}/f2`));
      await rm(join(src, `d${d}/f4`));
      await mkdir(join(src, `d${d}/f4`));
    }
    await writeFile(join(src, `d${DIRS - 3}/f5`), 'edited in a directory whose names did not change\n');
    await rename(join(src, `d${DIRS - 4}`), join(dir, 'src-moved-away'));
    await mkdir(join(src, `d${DIRS - 4}`));
    const flat = (nodes: ScannedNode[]): unknown[] =>
      nodes.flatMap((n) => [{ path: n.path, type: n.type, ...n.stat }, ...(n.type === 'dir' ? flat(n.children) : [])]);
    const alone = await scanSource(src, null);
    expect(lstatAheadOf(src, root, objects, { minEntries: 0, maxEntries: DIRS * FILES })).toBeNull();
    const ahead = lstatAheadOf(src, root, objects, { minEntries: 0 })!;
    expect(ahead).not.toBeNull();
    // Given time to answer its first batches: the last directories are the helper's by then.
    await new Promise((r) => setTimeout(r, 300));
    const helped = await scanSource(src, ahead);
    await ahead.helper.close();
    expect(ahead.helper.helped).toBeGreaterThan(0);
    expect(flat(helped.root.children)).toEqual(flat(alone.root.children));
    expect(helped.files.map((f) => f.path)).toEqual(alone.files.map((f) => f.path));
    const size = (path: string) => helped.files.find((f) => f.path === path)?.stat.size;
    expect(size(`d${DIRS - 3}/f5`)).toBe('edited in a directory whose names did not change\n'.length);
    expect(size(`d${DIRS - 1}/new`)).toBe(6);
    expect(size(`d${DIRS - 1}/f2`)).toBeUndefined();
  });
});
