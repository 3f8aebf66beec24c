/**
 * Issue 11, "hand edits that leak through shared hard links": unchanged files of the live release,
 * the retained ones and a release being staged share one inode, so an in-place edit of a live file
 * is an edit of all of them. A release that becomes live (update or rollback) must be exactly its
 * signed content; the drift record is the only place an edit survives.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmod, copyFile, lstat, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { settle } from '../support/tree.js';
import { cs, csJson, editConfig, ok, publishedCluster, type Cluster } from './deploy-fixture.js';
import { Deployer, importFromDataDir, loadConfig, type DeployResult, type DriftReport } from '../../src/index.js';

/** Every regular file under `root` (never following symlinks) whose bytes contain `marker`. */
async function filesContaining(root: string, marker: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of await readdir(d).catch(() => [] as string[])) {
      const p = join(d, name);
      const st = await lstat(p);
      if (st.isDirectory()) await walk(p);
      else if (st.isFile() && (await readFile(p)).includes(marker)) out.push(p.slice(root.length + 1));
    }
  };
  await walk(root);
  return out.sort();
}

/** Overwrites a read-only live file in place, as root or the owner would with a text editor that keeps the inode. */
async function editInPlace(path: string, text: string): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  await chmod(path, mode | 0o200);
  await writeFile(path, text);
  await chmod(path, mode);
}

/**
 * Each test's own publisher and follower in a directory of its own, release 1 live, removed after
 * the file. Nothing is shared between tests, so they run concurrently: most of each one's time is
 * settle()'s 1.1 s waits and CLI processes.
 */
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function setUp(): Promise<{ src: string; c: Cluster; release: () => Promise<number>; liveVersion: () => Promise<number> }> {
  const { dir, src, c } = await publishedCluster('cs-deploy-leak-', { activated: true });
  dirs.push(dir);
  // A second path with the same content: a clean local copy of run.sh's chunk.
  await copyFile(join(src, 'bin/run.sh'), join(src, 'bin/run-copy.sh'));
  await chmod(join(src, 'bin/run-copy.sh'), 0o700);
  return {
    src,
    c,
    /** Publishes the current source as the next version and activates it on the follower. */
    release: async () => {
      await settle();
      const v = (await csJson<{ version: number }>(c.pub, 'publish', src)).version;
      ok(await cs(c.fol, 'activate', String(v), '--source-data', c.pubData));
      return v;
    },
    liveVersion: async () => Number((await readlink(c.folLive)).split('/').pop()),
  };
}

describe.concurrent('deploy: hand edits never leak through shared inodes', () => {
  it('rollback after an in-place edit of a live file: the rolled-back release is clean, the edit is only in drift/', async () => {
    const { src, c, release, liveVersion } = await setUp();
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 2\n');
    expect(await release()).toBe(2);
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 3\n');
    expect(await release()).toBe(3);
    // run.sh is one inode in releases 2 and 3 (unchanged), medium.bin too.
    const r2 = join(c.folData, 'releases', '2');
    expect((await stat(join(c.folLive, 'bin/run.sh'))).ino).toBe((await stat(join(r2, 'bin/run.sh'))).ino);

    await editInPlace(join(c.folLive, 'bin/run.sh'), '#!/bin/sh\necho HOTFIX\n');
    await chmod(join(c.folLive, 'data/medium.bin'), 0o640);

    const r = await csJson<DeployResult>(c.fol, 'rollback');
    expect(r).toMatchObject({ version: 2, previous: 3, switched: true });
    expect(await liveVersion()).toBe(2);
    const deep = await cs(c.fol, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
    expect(await readFile(join(c.folLive, 'bin/run.sh'), 'utf8')).toBe('#!/bin/sh\necho run\n');
    expect((await stat(join(c.folLive, 'data/medium.bin'))).mode & 0o777).toBe(0o444);

    // The edit survives in the drift record of release 3, and nowhere else in the data directory.
    expect(r.drift!.report.preserved).toContain('bin/run.sh');
    expect(await filesContaining(c.folData, 'HOTFIX')).toEqual([`drift/${r.drift!.id}/bin/run.sh`]);

    // Release 3, now retained, is clean too: going forward again needs no drift handling.
    ok(await cs(c.fol, 'unpin'));
    const again = await csJson<DeployResult>(c.fol, 'activate', '3');
    expect(again.drift).toBeNull();
    expect((await cs(c.fol, 'verify', '--deep')).code).toBe(0);
  });

  it('an edited file whose content is nowhere else on the node: rollback names it and fails; the release is staged again from a source', async () => {
    const { c, release, liveVersion } = await setUp();
    expect(await release()).toBe(2);
    // app.conf is one inode in releases 1 and 2, and its chunk exists in no other file.
    await editInPlace(join(c.folLive, 'etc/app.conf'), 'listen 8080 # HOTFIX\n');

    const failed = await cs(c.fol, 'rollback', '1');
    expect(failed.code).toBe(7);
    expect(failed.stderr).toMatch(/E_NOT_FOUND: .*release 1.*etc\/app\.conf/s);
    expect(await liveVersion()).toBe(2);

    // Another data directory holds the chunk: activating release 1 from it stages what is missing.
    const r = await csJson<DeployResult>(c.fol, 'activate', '1', '--source-data', c.pubData);
    expect(r).toMatchObject({ version: 1, previous: 2, switched: true });
    expect((await cs(c.fol, 'verify', '--deep')).code).toBe(0);
    expect(await readFile(join(c.folLive, 'etc/app.conf'), 'utf8')).toBe('listen 80\nworkers 4\n');
    expect((await filesContaining(c.folData, 'HOTFIX')).every((p) => p.startsWith('drift/'))).toBe(true);
  });

  it('a stray file added to live does not come back when the release is activated again after a rollback', async () => {
    const { c, release, liveVersion } = await setUp();
    expect(await release()).toBe(2);
    await writeFile(join(c.folLive, 'etc/stray.conf'), 'STRAY by hand\n');
    const back = await csJson<DeployResult>(c.fol, 'rollback');
    expect(back.drift!.report.preserved).toEqual(['etc/stray.conf']);
    ok(await cs(c.fol, 'unpin'));

    const r = await csJson<DeployResult>(c.fol, 'activate', '2');
    expect(r).toMatchObject({ version: 2, switched: true });
    expect(await liveVersion()).toBe(2);
    await expect(lstat(join(c.folLive, 'etc/stray.conf'))).rejects.toThrow(/ENOENT/);
    const deep = await cs(c.fol, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
    expect(await filesContaining(c.folData, 'STRAY')).toEqual([`drift/${back.drift!.id}/etc/stray.conf`]);
  });

  it('a release staged while activation is blocked by drift does not take an edit made during the block', async () => {
    const { src, c, release } = await setUp();
    expect(await release()).toBe(2);
    await editConfig(c.fol, (cfg) => (cfg.drift = { policy: 'block' }));
    await writeFile(join(c.folLive, 'stray.txt'), 'left by hand\n');
    await writeFile(join(src, 'data/new.txt'), 'new in 3\n');
    await settle();
    ok(await cs(c.pub, 'publish', src));

    const blocked = await cs(c.fol, 'activate', '3', '--source-data', c.pubData);
    expect(blocked.code).toBe(9);
    // Staged while blocked: run.sh of release 3 is live's inode.
    const r3 = join(c.folData, 'releases', '3');
    expect((await stat(join(r3, 'bin/run.sh'))).ino).toBe((await stat(join(c.folLive, 'bin/run.sh'))).ino);

    await editInPlace(join(c.folLive, 'bin/run.sh'), '#!/bin/sh\necho HOTFIX during the block\n');
    ok(await cs(c.fol, 'drift', 'ack'));
    const r = await csJson<DeployResult>(c.fol, 'activate', '3', '--source-data', c.pubData);
    expect(r).toMatchObject({ version: 3, previous: 2, switched: true });
    const deep = await cs(c.fol, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
    expect(await readFile(join(c.folLive, 'bin/run.sh'), 'utf8')).toBe('#!/bin/sh\necho run\n');
    const kept = await filesContaining(c.folData, 'HOTFIX');
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.every((p) => p.startsWith('drift/') && p.endsWith('/bin/run.sh')), kept.join(', ')).toBe(true);
    const records = await csJson<DriftReport[]>(c.fol, 'drift', 'list');
    expect(records.some((x) => x.preserved.includes('bin/run.sh'))).toBe(true);
  });

  it.each([
    { where: 'in a new directory', keep: 3, recycledFrom: null },
    // run.sh is one inode in releases 1, 2 and 3: in release 1's tree it is its own donor.
    { where: 'in the tree of release 1', keep: 2, recycledFrom: 1 },
  ])('a release staged by the running node ($where), then a live file edited before its switch: the switch puts it back', async ({ keep, recycledFrom }) => {
    const { src, c, release } = await setUp();
    expect(await release()).toBe(2);
    await editConfig(c.fol, (cfg) => (cfg.releases = { keep }));
    await writeFile(join(src, 'data/new.txt'), 'new in 3\n');
    await settle();
    ok(await cs(c.pub, 'publish', src));
    // As serve does: stage, complete, then activate in the same process.
    const config = await loadConfig(c.fol);
    const d = await Deployer.open(config);
    const { release: head, source } = await importFromDataDir({
      from: c.pubData, version: 3, publisherKey: Buffer.from(config.cluster.publisherKey, 'hex'), releases: d.releases, objects: d.objects,
    });
    const stager = await d.stage(head);
    expect(stager.recycledFrom).toBe(recycledFrom);
    await stager.fillFrom(source);
    await stager.complete();
    const r3 = join(c.folData, 'releases', '3');
    expect((await stat(join(r3, 'bin/run.sh'))).ino).toBe((await stat(join(c.folLive, 'bin/run.sh'))).ino);

    await editInPlace(join(c.folLive, 'bin/run.sh'), '#!/bin/sh\necho HOTFIX before the switch\n');
    const r = await d.activate(3);
    expect(r).toMatchObject({ version: 3, previous: 2, switched: true });
    expect(r.drift!.report.preserved).toEqual(['bin/run.sh']);
    const deep = await cs(c.fol, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
    expect(await filesContaining(c.folData, 'HOTFIX')).toEqual([`drift/${r.drift!.id}/bin/run.sh`]);
  });
});
