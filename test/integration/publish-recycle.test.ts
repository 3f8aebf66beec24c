/**
 * Issue 9: publish builds a release in the tree of the release beyond releases.keep, as a follower
 * stages, instead of a new directory of hard links. Nothing done to that old tree (a planted file,
 * an in-place edit, a symlink out of the tree in place of a file or of a directory) may reach the
 * new release or be written through.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listing, settle } from '../support/tree.js';
import { cs, csJson, editConfig, ok, publishedCluster, type Cluster } from './deploy-fixture.js';
import type { PublishSummary } from '../../src/index.js';

let dir: string;
let src: string;
let c: Cluster;

async function publish(): Promise<PublishSummary> {
  await settle();
  return csJson<PublishSummary>(c.pub, 'publish', src);
}

beforeEach(async () => {
  ({ dir, src, c } = await publishedCluster('cs-publish-recycle-'));
  await editConfig(c.pub, (cfg) => (cfg.releases = { keep: 2 }));
  await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 8\n');
  expect((await publish()).recycledFrom).toBeNull();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('publish: building a release in the tree of the one it replaces', () => {
  it('takes the release beyond releases.keep, never the one it links from; nothing done to that tree reaches the new release or is written through', async () => {
    // A publish that finds nothing changed consumes no release.
    expect((await publish()).version).toBeNull();
    expect(await readdir(join(c.pubData, 'releases'))).toEqual(['1', '2']);

    const r1 = join(c.pubData, 'releases', '1');
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'victim.txt'), 'outside the tree\n');
    await chmod(r1, 0o755);
    await writeFile(join(r1, 'etc/stray.txt'), 'planted\n');
    // Release 1's own app.conf, edited in place; release 3 has its original content again.
    await writeFile(join(r1, 'etc/app.conf'), 'listen 80\nworkers 6\n');
    // The empty file changes in release 3: its copy must land in the tree, not through a symlink.
    await unlink(join(r1, 'empty'));
    await symlink(join(outside, 'victim.txt'), join(r1, 'empty'));
    // A directory of release 3 (with a changed file in it) is a symlink to a directory outside.
    await rm(join(r1, 'etc/deep'), { recursive: true, force: true });
    await symlink(outside, join(r1, 'etc/deep'));
    const medium = await stat(join(c.pubData, 'releases/2/data/medium.bin'));

    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 4\n');
    await writeFile(join(src, 'empty'), 'not empty any more\n');
    await writeFile(join(src, 'etc/deep/nested/dir/value.txt'), 'changed in 3\n');
    // bin/conf-link is a symlink in releases 1 and 2 and becomes a directory in release 3.
    await unlink(join(src, 'bin/conf-link'));
    await mkdir(join(src, 'bin/conf-link'));
    await writeFile(join(src, 'bin/conf-link/inside.txt'), 'a file where a symlink was\n');
    const s = await publish();
    expect(s).toMatchObject({ version: 3, recycledFrom: 1 });

    expect(await readdir(join(c.pubData, 'releases'))).toEqual(['2', '3']);
    expect(await readdir(join(c.pubData, 'staging'))).toEqual([]);
    expect(await listing(join(c.pubData, 'releases/3'))).toEqual(await listing(src));
    expect(await readdir(outside)).toEqual(['victim.txt']);
    expect(await readFile(join(outside, 'victim.txt'), 'utf8')).toBe('outside the tree\n');
    // Unchanged files are release 2's inodes, not copies.
    expect((await stat(join(c.pubData, 'releases/3/data/medium.bin'))).ino).toBe(medium.ino);

    // What was signed is what is on disk: a follower builds release 3 from it and checks every byte.
    ok(await cs(c.fol, 'activate', '3', '--source-data', c.pubData));
    const deep = await cs(c.fol, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
    expect(await listing(join(c.dir, 'fol/live'))).toEqual(await listing(src));

    // With releases.keep 1, release 2 is taken for 4, never 3 (linked from); 3 is collected after.
    await editConfig(c.pub, (cfg) => (cfg.releases = { keep: 1 }));
    await writeFile(join(src, 'data/new.txt'), 'new in 4\n');
    expect(await publish()).toMatchObject({ version: 4, recycledFrom: 2 });
    expect(await readdir(join(c.pubData, 'releases'))).toEqual(['4']);
    expect(await listing(join(c.pubData, 'releases/4'))).toEqual(await listing(src));

    // A republished release is a tree beyond releases.keep that recycling alone left on the master
    // for good (it takes one tree per publish): the next publish collects it.
    await editConfig(c.pub, (cfg) => (cfg.releases = { keep: 2 }));
    await writeFile(join(src, 'data/new.txt'), 'new in 5\n');
    expect(await publish()).toMatchObject({ version: 5 });
    ok(await cs(c.pub, 'republish', '4'));
    expect(await readdir(join(c.pubData, 'releases'))).toEqual(['4', '5', '6']);
    await writeFile(join(src, 'data/new.txt'), 'new in 7\n');
    expect(await publish()).toMatchObject({ version: 7, recycledFrom: 5 });
    expect((await readdir(join(c.pubData, 'releases'))).sort()).toEqual(['6', '7']);
    expect(await listing(join(c.pubData, 'releases/7'))).toEqual(await listing(src));
  });
});
