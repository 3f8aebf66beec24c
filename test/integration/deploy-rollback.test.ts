import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSampleTree, settle } from '../support/tree.js';
import { cs, csJson, editConfig, makeCluster, ok, type Cluster } from './deploy-fixture.js';
import type { DeployResult, GcResult, PublishFromSummary, ReleaseSummary } from '../../src/index.js';

let dir: string;
let src: string;
let c: Cluster;
let live: string;
const conf = (v: number) => `listen 80\nversion ${v}\n`;

async function liveVersion(): Promise<number> {
  return Number((await readlink(live)).split('/').pop());
}

async function state(): Promise<{ live: number; pinned: boolean }> {
  return JSON.parse(await readFile(join(c.pubData, 'state.json'), 'utf8')) as { live: number; pinned: boolean };
}

/** The publisher activates its own releases: a single-node setup, no follower needed. */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-deploy-rollback-'));
  src = join(dir, 'src');
  await makeSampleTree(src);
  c = await makeCluster(dir, { follower: false });
  live = join(dir, 'pub', 'live');
  for (const v of [1, 2, 3]) {
    await writeFile(join(src, 'etc/app.conf'), conf(v));
    await settle();
    ok(await cs(c.pub, 'publish', src));
  }
  ok(await cs(c.pub, 'activate', '3'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('deploy: rollback, pin, republish, gc, hooks', () => {
  it('rollback goes back to the previous retained release and pins the node; unpin releases it', async () => {
    const r = await csJson<DeployResult>(c.pub, 'rollback');
    expect(r).toMatchObject({ version: 2, previous: 3, switched: true });
    expect(await liveVersion()).toBe(2);
    expect(await readFile(join(live, 'etc/app.conf'), 'utf8')).toBe(conf(2));
    expect(await state()).toMatchObject({ live: 2, pinned: true });

    const refused = await cs(c.pub, 'activate', '3');
    expect(refused.code).toBe(8);
    expect(refused.stderr).toMatch(/E_PINNED.*unpin/);
    expect(await liveVersion()).toBe(2);

    ok(await cs(c.pub, 'rollback', '1'));
    expect(await liveVersion()).toBe(1);
    expect(await state()).toMatchObject({ live: 1, pinned: true });

    expect((await csJson<{ pinned: boolean }>(c.pub, 'unpin')).pinned).toBe(false);
    ok(await cs(c.pub, 'activate', '3'));
    expect(await liveVersion()).toBe(3);
    expect(await state()).toMatchObject({ live: 3, pinned: false });
  });

  it('republish makes an old tree the newest release, hard-linked from the old one', async () => {
    const s = await csJson<PublishFromSummary>(c.pub, 'republish', '1', '--note', 'back to 1');
    expect(s.version).toBe(4);
    expect(s.from).toBe(1);
    expect(s.copiedPieces).toBe(0);
    const [one, four] = await Promise.all([csJson<ReleaseSummary>(c.pub, 'show', '1'), csJson<ReleaseSummary>(c.pub, 'show', '4')]);
    expect(four.root).toBe(one.root);
    expect(four.note).toBe('back to 1');
    expect(four.parent).toBe((await csJson<ReleaseSummary>(c.pub, 'show', '3')).releaseId);
    const r1 = join(c.pubData, 'releases', '1');
    const r4 = join(c.pubData, 'releases', '4');
    for (const p of ['etc/app.conf', 'data/big.bin', 'bin/run.sh']) {
      expect((await stat(join(r4, p))).ino, p).toBe((await stat(join(r1, p))).ino);
    }
    ok(await cs(c.pub, 'activate', '4'));
    expect(await readFile(join(live, 'etc/app.conf'), 'utf8')).toBe(conf(1));
    expect((await cs(c.pub, 'verify', '--deep')).code).toBe(0);
  });

  it('gc keeps releases.keep newest trees plus live, keeps heads, and counts only bytes no kept release shares', async () => {
    await editConfig(c.pub, (cfg) => (cfg.releases = { keep: 2 }));
    // Live on 2 (rollback): 2 must survive although it is not among the 2 newest.
    ok(await cs(c.pub, 'rollback', '2'));
    const r = await csJson<GcResult>(c.pub, 'gc');
    expect(r.kept).toEqual([2, 3, 4]);
    expect(r.removed.map((x) => x.version)).toEqual([1]);
    // Every file of 1 lives on in 4 (republished from it): nothing is freed.
    expect(r.freedBytes).toBe(0);
    ok(await cs(c.pub, 'unpin'));
    ok(await cs(c.pub, 'activate', '4'));
    const again = await csJson<GcResult>(c.pub, 'gc');
    expect(again.removed.map((x) => x.version)).toEqual([2]);
    // 2's app.conf was its own; everything else is shared with 3 and 4.
    expect(again.freedBytes).toBe(Buffer.byteLength(conf(2)));
    expect((await csJson<ReleaseSummary>(c.pub, 'show', '2')).materialized).toBe(false);
    // Rolling back to a collected release re-stages it from local chunks, except what only it had.
    const gone = await cs(c.pub, 'rollback', '2');
    expect(gone.code).toBe(7);
    expect(gone.stderr).toMatch(/E_NOT_FOUND: release 2 is not whole on this node: 1 of its \d+ pieces are missing .* run "chunkswarm republish 2" on the master; releases whole on this node: 3, 4\n/);
    expect(await liveVersion()).toBe(4);
  });

  it('a failing preActivate hook leaves live untouched; a failing postActivate only warns', async () => {
    await editConfig(c.pub, (cfg) => (cfg.hooks = { preActivate: 'echo checking $CHUNKSWARM_VERSION; exit 3' }));
    const r = await cs(c.pub, 'activate', '3');
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/E_HOOK: preActivate hook exited 3.*unchanged/s);
    expect(r.stderr).toContain('checking 3');
    expect(await liveVersion()).toBe(4);
    expect((await state()).live).toBe(4);

    // One that hangs is killed after hooks.timeoutSec, and counts as failed.
    await editConfig(c.pub, (cfg) => (cfg.hooks = { preActivate: 'echo waiting; sleep 60', timeoutSec: 1 }));
    const hung = await cs(c.pub, 'activate', '3');
    expect(hung.code).toBe(10);
    expect(hung.stderr).toMatch(/E_HOOK: preActivate hook did not end within 1 s \(hooks.timeoutSec\) and was killed; release 3 was not activated.*waiting/s);
    expect(await liveVersion()).toBe(4);

    await editConfig(c.pub, (cfg) => {
      cfg.hooks = {
        preActivate: 'echo "$CHUNKSWARM_VERSION $CHUNKSWARM_PREVIOUS_VERSION $CHUNKSWARM_RELEASE_DIR $CHUNKSWARM_LIVE_PATH" > hook.env',
        postActivate: 'echo reload failed >&2; exit 1',
      };
    });
    const ok3 = await csJson<DeployResult>(c.pub, 'activate', '3');
    expect(ok3.postActivate).toMatchObject({ code: 1, output: 'reload failed\n' });
    expect(ok3.warnings).toEqual(['postActivate hook exited 1; release 3 stays live']);
    expect(await liveVersion()).toBe(3);
    expect(await readFile(join(dir, 'pub', 'hook.env'), 'utf8')).toBe(`3 4 ${join(c.pubData, 'releases', '3')} ${live}\n`);
  });

  it('refuses a livePath that is a real directory, with a message saying what to do', async () => {
    const other = join(dir, 'other');
    await editConfig(c.pub, (cfg) => {
      cfg.hooks = {};
      cfg.livePath = '../other';
    });
    await mkdir(other);
    const r = await cs(c.pub, 'activate', '4');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/livePath .*other is a real directory.*"adoptLive": true.*or move it away yourself/);
  });
});
