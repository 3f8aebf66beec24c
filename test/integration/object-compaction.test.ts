import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectGarbage } from '../../src/deploy/index.js';
import { ObjectStore, ReleaseStore } from '../../src/store/index.js';
import { makeSampleTree, settle } from '../support/tree.js';
import { cs, csJson, editConfig, makeCluster, ok, type Cluster } from './deploy-fixture.js';
import type { ReleaseSummary } from '../../src/index.js';

let dir: string;
let src: string;
let c: Cluster;

/** Four releases, each changing one file: each adds the tree objects on its path to the journals. */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-object-compaction-'));
  src = join(dir, 'src');
  await makeSampleTree(src);
  c = await makeCluster(dir, { follower: false });
  await editConfig(c.pub, (cfg) => (cfg.releases = { keep: 1 }));
  for (const v of [1, 2, 3, 4]) {
    await writeFile(join(src, 'etc/app.conf'), `version ${v}\n`);
    await settle();
    ok(await cs(c.pub, 'publish', src));
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('object journals: gc drops the objects of releases older than the newest 2 x releases.keep', () => {
  it('keeps what the newest releases reach, drops the rest, and says why an old release can no longer be staged', async () => {
    const releases = new ReleaseStore(c.pubData);
    const objects = new ObjectStore(releases.objectsDir);
    const journals = () => readdir(join(releases.objectsDir, 'journal'));
    // Every publish was a process of its own, now ended: each left a journal file.
    expect((await journals()).filter((n) => n.endsWith('.journal')).length).toBeGreaterThanOrEqual(4);
    const before = objects.journalBytes();
    const r = await collectGarbage({ releases, keep: 1, protect: [], objects, journalSlackBytes: 0 });
    objects.close();
    expect(r.objects).not.toBeNull();
    expect(r.objects!.dropped).toBeGreaterThan(0);
    expect(r.objects!.bytesBefore).toBe(before);
    expect(r.objects!.bytesAfter).toBeLessThan(before);
    expect((await journals()).filter((n) => n.endsWith('.journal'))).toHaveLength(1);
    // Weighed against what it kept, the next gc leaves the journals alone until they double.
    expect((await collectGarbage({ releases, keep: 1, protect: [], objects, journalSlackBytes: 0 })).objects).toBeNull();
    // Heads stay; the objects of releases 3 and 4 do, those of 1 and 2 do not.
    expect((await releases.versions())).toEqual([1, 2, 3, 4]);
    for (const v of ['3', '4']) expect((await csJson<ReleaseSummary>(c.pub, 'show', v)).version).toBe(Number(v));
    const show = await cs(c.pub, 'show', '1');
    expect(show.code).toBe(7);
    expect(show.stderr).toMatch(/E_NOT_FOUND: the objects of release 1 are not all on this node \(object [0-9a-f]{64} not found\): .* gc keeps the objects of the 2 newest releases only \(2 x releases.keep\)\n/);
    expect((await cs(c.pub, 'diff', '1', '4')).stderr).toMatch(/E_NOT_FOUND: the objects of release 1 or 4 are not all on this node/);

    const activate = await cs(c.pub, 'activate', '1');
    expect(activate.code).toBe(7);
    expect(activate.stderr).toMatch(
      /E_NOT_FOUND: release 1 cannot be staged again on this node: object [0-9a-f]{64} not found, and gc keeps the objects of the 2 newest releases only \(2 x releases.keep\).*publish its source again on the master; releases whole on this node: 4\n/,
    );
    const republish = await cs(c.pub, 'republish', '2');
    expect(republish.code).toBe(7);
    expect(republish.stderr).toMatch(/E_NOT_FOUND: version 2 cannot be built again on this node: object [0-9a-f]{64} not found, .*Publish its source again\n/);

    // What is kept serves on: the next release builds on 4, and 3, whose tree is gone but whose
    // objects stayed, is staged again from 5's files (5 has 3's content back).
    await writeFile(join(src, 'etc/app.conf'), 'version 3\n');
    await settle();
    ok(await cs(c.pub, 'publish', src));
    ok(await cs(c.pub, 'activate', '5'));
    expect(await releases.materialized()).toEqual([5]);
    ok(await cs(c.pub, 'rollback', '3'));
    expect((await cs(c.pub, 'verify', '--deep')).code).toBe(0);
  });
});
