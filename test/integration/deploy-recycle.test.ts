/**
 * Issue 9: once releases.keep trees are on disk, a release is staged in the tree of the release
 * garbage collection would delete next (recycleRelease), not in a new directory of hard links.
 * That tree is not trusted: whatever was done to it (an in-place edit, a planted symlink or file,
 * a symlink where the new release has a directory) must not reach the new release.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listing, settle } from '../support/tree.js';
import { cs, csJson, editConfig, ok, publishedCluster, type Cluster } from './deploy-fixture.js';
import type { DeployResult } from '../../src/index.js';
import { InodeCache } from '../../src/store/index.js';

/**
 * Each test's own publisher and follower in a directory of its own, releases 1 and 2 live in turn
 * (releases.keep 2), removed after the file. Nothing is shared between tests, so they run
 * concurrently: most of each one's time is settle()'s 1.1 s waits and CLI processes.
 */
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function setUp(): Promise<{ src: string; c: Cluster; release: () => Promise<DeployResult> }> {
  const { dir, src, c } = await publishedCluster('cs-deploy-recycle-', { activated: true });
  dirs.push(dir);
  /** Publishes the current source as the next version and activates it on the follower. */
  const release = async (): Promise<DeployResult> => {
    await settle();
    const v = (await csJson<{ version: number }>(c.pub, 'publish', src)).version;
    return csJson<DeployResult>(c.fol, 'activate', String(v), '--source-data', c.pubData);
  };
  await editConfig(c.fol, (cfg) => (cfg.releases = { keep: 2 }));
  await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 8\n');
  expect((await release()).staged!.recycledFrom).toBeNull();
  return { src, c, release };
}

describe.concurrent('deploy: staging in the tree of the release it replaces', () => {
  it('takes the oldest release beyond releases.keep; nothing done to that tree reaches the new release', async () => {
    const { src, c, release } = await setUp();
    const r1 = join(c.folData, 'releases', '1');
    await chmod(r1, 0o755);
    // Release 1's own app.conf ("workers 4"), edited in place and keeping its size: release 3 has
    // that content again, so the file is a candidate by size and by content.
    await writeFile(join(r1, 'etc/app.conf'), 'listen 80\nworkers 6\n');
    await writeFile(join(r1, 'etc/stray.txt'), 'planted\n');
    // medium.bin is one inode in releases 1 and 2 (live): replaced in 1 by a symlink out of the tree.
    await unlink(join(r1, 'data/medium.bin'));
    await symlink('/etc/hostname', join(r1, 'data/medium.bin'));
    const liveMedium = await stat(join(c.folLive, 'data/medium.bin'));

    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 4\n');
    // bin/conf-link is a symlink in release 1 and becomes a directory in release 3.
    await unlink(join(src, 'bin/conf-link'));
    await mkdir(join(src, 'bin/conf-link'));
    await writeFile(join(src, 'bin/conf-link/inside.txt'), 'a file where a symlink was\n');
    const r = await release();
    expect(r).toMatchObject({ version: 3, previous: 2, switched: true, drift: null });
    expect(r.staged!.recycledFrom).toBe(1);

    expect(await readdir(join(c.folData, 'releases'))).toEqual(['2', '3']);
    const deep = await cs(c.fol, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
    expect(await listing(c.folLive)).toEqual(await listing(src));
    // Unchanged files are still the live release's inodes, not copies.
    expect((await stat(join(c.folLive, 'data/medium.bin'))).ino).toBe(liveMedium.ino);
    expect((await stat(join(c.folData, 'releases/2/data/medium.bin'))).ino).toBe(liveMedium.ino);
  });

  it('an in-place edit of a live file shared with the recycled tree is preserved in drift/ and not taken into the new release', async () => {
    const { src, c, release } = await setUp();
    // run.sh is one inode in releases 1 and 2: the edit is in both trees.
    const mode = (await stat(join(c.folLive, 'bin/run.sh'))).mode & 0o777;
    await chmod(join(c.folLive, 'bin/run.sh'), mode | 0o200);
    await writeFile(join(c.folLive, 'bin/run.sh'), '#!/bin/sh\necho HOTFIX\n');
    await chmod(join(c.folLive, 'bin/run.sh'), mode);

    await writeFile(join(src, 'data/new.txt'), 'new in 3\n');
    const r = await release();
    expect(r).toMatchObject({ version: 3, switched: true });
    expect(r.drift!.report.preserved).toContain('bin/run.sh');
    // run.sh is the live release's inode at the same path: staging kept it unseen (the inode maps)
    // and the check before the switch found the edit; the release went back to staging for that
    // file's piece, the source had it, and the second try met the same drift: one record.
    expect(await readdir(join(c.folData, 'drift'))).toEqual([r.drift!.id]);
    expect(await readFile(join(c.folLive, 'bin/run.sh'), 'utf8')).toBe('#!/bin/sh\necho run\n');
    expect(await readFile(join(c.folData, 'drift', r.drift!.id, 'bin/run.sh'), 'utf8')).toBe('#!/bin/sh\necho HOTFIX\n');
    const deep = await cs(c.fol, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
    expect(await listing(c.folLive)).toEqual(await listing(src));
  });

  it('a file of the recycled tree swapped by rename for another of the same size, mode and mtime is seen: the inode maps vouch only for unchanged directories', async () => {
    const { src, c, release } = await setUp();
    const r1 = join(c.folData, 'releases', '1');
    const runSh = join(r1, 'bin/run.sh');
    const clean = await readFile(runSh);
    const st = await stat(runSh);
    // Release 1's run.sh is the live release's inode, so its map names the live inode at that path.
    expect(st.ino).toBe((await stat(join(c.folLive, 'bin/run.sh'))).ino);
    const swap = join(r1, 'bin/.swap');
    await writeFile(swap, Buffer.from(clean.toString().replace('run', 'RUN')));
    await chmod(swap, st.mode & 0o777);
    await utimes(swap, st.atime, st.mtime);
    await rename(swap, runSh);

    await writeFile(join(src, 'data/new.txt'), 'new in 3\n');
    const r = await release();
    expect(r).toMatchObject({ version: 3, switched: true, drift: null });
    expect(r.staged!.recycledFrom).toBe(1);
    // The other directories' files were kept on the maps' word.
    expect(r.staged!.keptShared).toBeGreaterThan(0);
    expect(await readFile(join(c.folLive, 'bin/run.sh'))).toEqual(clean);
    // One map per release on disk: release 1's went with its tree.
    expect((await readdir(join(c.folData, 'inode-maps'))).sort()).toEqual(['2.json', '3.json']);
    const deep = await cs(c.fol, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
    expect(await listing(c.folLive)).toEqual(await listing(src));
  });

  it('a name planted in a directory of the recycled tree that verify had listed is removed, though the directory\'s tree is unchanged', async () => {
    const { src, c, release } = await setUp();
    const r1 = join(c.folData, 'releases', '1');
    const nested = join(r1, 'etc/deep/nested/dir');
    // Listed while release 1 was live (the check before release 2's switch): remembered with its tree.
    expect((await InodeCache.open(c.folData)).hashOf(await lstat(nested))).not.toBeNull();
    const before = await stat(nested);
    await writeFile(join(nested, 'planted.txt'), 'stray\n');
    // Its mtime put back: only the ctime tells.
    await utimes(nested, before.atime, before.mtime);
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 2\n');
    const r = await release();
    expect(r.staged!.recycledFrom).toBe(1);
    expect(await readdir(join(c.folLive, 'etc/deep/nested/dir'))).toEqual(['value.txt']);
    expect(await listing(c.folLive)).toEqual(await listing(src));
  });

  it('a directory of the recycled tree that the new release leaves as it was keeps its state: the next check need not list it', async () => {
    const { src, c, release } = await setUp();
    if (process.getuid?.() !== 0) {
      console.log('skipped: a node that is not root makes each directory of a recycled tree writable, which moves its ctime');
      return;
    }
    const r1 = join(c.folData, 'releases', '1');
    const nested = 'etc/deep/nested/dir';
    const before = await lstat(join(r1, nested));
    expect((await InodeCache.open(c.folData)).hashOf(before)).not.toBeNull();
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 3\n');
    const r = await release();
    expect(r.staged!.recycledFrom).toBe(1);
    const after = await lstat(join(c.folLive, nested));
    expect(after.ino).toBe(before.ino);
    // Neither made writable for staging nor given its mode and mtime again: its ctime did not move,
    // and the inode cache's record that it holds its tree's names still holds.
    expect(after.ctimeMs).toBe(before.ctimeMs);
    expect((await InodeCache.open(c.folData)).hashOf(after)).toBe((await InodeCache.open(c.folData)).hashOf(before));
    // etc/ itself changed (app.conf replaced): given its recorded mtime again.
    expect(Math.abs((await lstat(join(c.folLive, 'etc'))).mtimeMs - (await lstat(join(src, 'etc'))).mtimeMs)).toBeLessThan(1);
    const deep = await cs(c.fol, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
  });

  it('the directories of a release are remembered as they are staged; a name planted afterwards is still found by a quick verify', async () => {
    const { c } = await setUp();
    const nested = join(c.folLive, 'etc/deep/nested/dir');
    // Release 2 was staged in a new tree and nothing has listed it since: staging remembered it.
    expect((await InodeCache.open(c.folData)).hashOf(await lstat(nested))).not.toBeNull();
    const before = await stat(nested);
    await writeFile(join(nested, 'planted.txt'), 'stray\n');
    await utimes(nested, before.atime, before.mtime);
    const quick = await cs(c.fol, 'verify', '--json');
    expect(quick.code, quick.stdout).toBe(1);
    expect(JSON.parse(quick.stdout).entries).toMatchObject([{ path: 'etc/deep/nested/dir/planted.txt', kind: 'added' }]);
  });

  it('never the live release: with releases.keep 1 there is nothing to recycle', async () => {
    const { src, c, release } = await setUp();
    await editConfig(c.fol, (cfg) => (cfg.releases = { keep: 1 }));
    ok(await cs(c.fol, 'gc'));
    expect(await readdir(join(c.folData, 'releases'))).toEqual(['2']);
    // Release 2's packs (its file objects, and its trees for a quick verify) stay; release 1's went.
    const packs = (await readdir(join(c.folData, 'objects', 'packs'))).sort();
    expect(packs).toHaveLength(2);
    expect(packs[1]).toBe(`${packs[0]}.trees`);
    await writeFile(join(src, 'data/new.txt'), 'new in 3\n');
    const r = await release();
    expect(r.staged!.recycledFrom).toBeNull();
    expect(await readdir(join(c.folData, 'releases'))).toEqual(['2', '3']);
  });
});
