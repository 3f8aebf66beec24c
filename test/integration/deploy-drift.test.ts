import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { settle } from '../support/tree.js';
import { contentHash, cs, csJson, editConfig, ok, publishedCluster, releaseEntries, type Cluster } from './deploy-fixture.js';
import type { DeployResult, DriftReport, PublishSummary, VerifyResult } from '../../src/index.js';

let dir: string;
let src: string;
let c: Cluster;

const FILES = ['etc/app.conf', 'etc/deep/nested/dir/value.txt', 'bin/run.sh', 'data/big.bin', 'data/medium.bin', 'empty'];

async function expectLiveEqualsSource(): Promise<void> {
  for (const p of FILES) expect((await readFile(join(c.folLive, p))).equals(await readFile(join(src, p))), p).toBe(true);
}

beforeAll(async () => {
  ({ dir, src, c } = await publishedCluster('cs-deploy-drift-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('deploy: staging, activation and drift', () => {
  it('a follower stages a release from another node and activates it: live is an exact, read-only copy', async () => {
    const r = await csJson<DeployResult>(c.fol, 'activate', '1', '--source-data', c.pubData);
    expect(r).toMatchObject({ version: 1, previous: null, switched: true, drift: null });
    expect(r.staged!.fromSource).toBe(r.staged!.pieces);
    expect(await readlink(c.folLive)).toBe(join(c.folData, 'releases', '1'));
    await expectLiveEqualsSource();
    expect((await lstat(join(c.folLive, 'bin/conf-link'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(c.folLive, 'bin/conf-link'))).toBe('../etc/app.conf');
    expect((await stat(join(c.folLive, 'data/big-hardlink.bin'))).ino).toBe((await stat(join(c.folLive, 'data/big.bin'))).ino);
    expect((await stat(join(c.folLive, 'bin/run.sh'))).mode & 0o777).toBe(0o500);
    expect((await stat(join(c.folLive, 'etc'))).mode & 0o777).toBe(0o555);
    expect((await stat(join(c.folLive, 'data/big.bin'))).mtimeMs).toBe((await stat(join(c.pubData, 'releases/1/data/big.bin'))).mtimeMs);
    const v = await cs(c.fol, 'verify');
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/clean/);
  });

  it('verify reports hand edits and strays with the integrity-checker exit bitmask', async () => {
    // In place: the inode is shared with the release tree, as a hand edit of live would do.
    await writeFile(join(c.folLive, 'etc/app.conf'), 'listen 8080 # hotfix\n');
    await writeFile(join(c.folLive, 'bin/stray.sh'), '#!/bin/sh\necho stray\n');
    await mkdir(join(c.folLive, 'newdir'));
    await writeFile(join(c.folLive, 'newdir/notes.txt'), 'todo\n');
    const r = await cs(c.fol, 'verify');
    expect(r.code).toBe(1 | 4);
    expect(r.stdout).toMatch(/^M etc\/app\.conf .*size 20\|21/m);
    expect(r.stdout).toMatch(/^A bin\/stray\.sh /m);
    expect(r.stdout).toMatch(/^A newdir\/notes\.txt /m);
    const json = JSON.parse((await cs(c.fol, 'verify', '--json')).stdout) as VerifyResult;
    expect(json.counts).toEqual({ added: 3, removed: 0, modified: 1, meta: 0, type: 0 });
  });

  it('activating the next release preserves every edited and added file with a report, and never reuses the edited inode', async () => {
    const medium = join(src, 'data/medium.bin');
    const bytes = await readFile(medium);
    bytes.write('SECOND RELEASE', 50 * 1024);
    await writeFile(medium, bytes);
    await settle();
    const second = await csJson<PublishSummary>(c.pub, 'publish', src);
    expect(second.version).toBe(2);
    const v1 = await releaseEntries(c.folData, 1);

    const r = await csJson<DeployResult>(c.fol, 'activate', '2', '--source-data', c.pubData);
    expect(r).toMatchObject({ version: 2, previous: 1, switched: true });
    // The new chunks of medium.bin plus app.conf's chunk: the edited local copy was refused as a source.
    expect(r.staged!.fromSource).toBe(second.newChunks + 1);

    const report = r.drift!.report;
    expect(report.version).toBe(1);
    expect(report.replacedBy).toBe(2);
    expect(report.policy).toBe('preserve');
    expect(report.preserved.sort()).toEqual(['bin/stray.sh', 'etc/app.conf', 'newdir/notes.txt']);
    const onDisk = JSON.parse(await readFile(join(r.drift!.dir, 'report.json'), 'utf8')) as DriftReport;
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(report)));
    const edit = report.entries.find((e) => e.path === 'etc/app.conf')!;
    expect(edit.kind).toBe('modified');
    expect(edit.old!.hash).toBe(v1.get('etc/app.conf')!.hash);
    expect(edit.old!.size).toBe(20);
    expect(edit.new!.size).toBe(21);
    expect(edit.new!.hash).toBe(await contentHash(join(r.drift!.dir, 'etc/app.conf')));
    expect(edit.new!.uid).toBe(0);
    expect(await readFile(join(r.drift!.dir, 'etc/app.conf'), 'utf8')).toBe('listen 8080 # hotfix\n');
    expect(await readFile(join(r.drift!.dir, 'bin/stray.sh'), 'utf8')).toBe('#!/bin/sh\necho stray\n');
    expect(await readFile(join(r.drift!.dir, 'newdir/notes.txt'), 'utf8')).toBe('todo\n');
    expect(report.entries.filter((e) => e.kind === 'added').map((e) => e.path)).toEqual(['bin/stray.sh', 'newdir', 'newdir/notes.txt']);

    expect(await readlink(c.folLive)).toBe(join(c.folData, 'releases', '2'));
    await expectLiveEqualsSource();
    const r1 = join(c.folData, 'releases', '1');
    expect((await stat(join(c.folLive, 'etc/app.conf'))).ino).not.toBe((await stat(join(r1, 'etc/app.conf'))).ino);
    expect((await stat(join(c.folLive, 'data/big.bin'))).ino).toBe((await stat(join(r1, 'data/big.bin'))).ino);
    const v = await cs(c.fol, 'verify', '--deep');
    expect(v.code, v.stdout).toBe(0);
  });

  it('policy "block" keeps the drifted release live until drift ack', async () => {
    await editConfig(c.fol, (cfg) => (cfg.drift = { policy: 'block' }));
    await chmod(join(c.folLive, 'empty'), 0o600);
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 8\n');
    await settle();
    ok(await cs(c.pub, 'publish', src));

    const blocked = await cs(c.fol, 'activate', '3', '--source-data', c.pubData);
    expect(blocked.code).toBe(9);
    expect(blocked.stderr).toMatch(/E_DRIFT.*drift ack/s);
    expect(await readlink(c.folLive)).toBe(join(c.folData, 'releases', '2'));
    const records = await csJson<Array<{ id: string; policy: string; counts: { meta: number } }>>(c.fol, 'drift', 'list');
    expect(records.at(-1)).toMatchObject({ policy: 'block', counts: { meta: 1 } });
    const shown = await csJson<DriftReport>(c.fol, 'drift', 'show', records.at(-1)!.id);
    expect(shown.entries.map((e) => [e.kind, e.path])).toEqual([['meta', 'empty']]);

    ok(await cs(c.fol, 'drift', 'ack'));
    const r = await csJson<DeployResult>(c.fol, 'activate', '3', '--source-data', c.pubData);
    expect(r.version).toBe(3);
    expect(r.drift).toBeNull();
    expect(await readlink(c.folLive)).toBe(join(c.folData, 'releases', '3'));
    expect((await stat(join(c.folLive, 'empty'))).mode & 0o777).toBe(0o444);
    expect((await cs(c.fol, 'verify')).code).toBe(0);
  });
});
