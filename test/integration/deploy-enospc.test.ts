import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSampleTree, pseudoRandom, settle } from '../support/tree.js';
import { mountSmallTmpfs, type SmallTmpfs } from '../support/tmpfs.js';
import { cs, csJson, editConfig, makeCluster, ok, type Cluster } from './deploy-fixture.js';
import type { DeployResult, PublishSummary } from '../../src/index.js';

let dir: string;
let src: string;
let mnt: string;
let c: Cluster;
let fs: SmallTmpfs;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-deploy-enospc-'));
  src = join(dir, 'src');
  mnt = join(dir, 'mnt');
  fs = await mountSmallTmpfs(mnt, '8m', 'ENOSPC test');
  if (!fs.mounted) return;
  await makeSampleTree(src);
  c = await makeCluster(dir);
  await editConfig(c.fol, (cfg) => (cfg.dataDir = mnt));
  c.folData = mnt;
  ok(await cs(c.pub, 'publish', src));
});

afterAll(async () => {
  fs.unmount();
  await rm(dir, { recursive: true, force: true });
});

describe('deploy: a full disk', () => {
  it('fails with E_NO_SPACE leaving live untouched, and succeeds once space is freed, resuming', async (ctx) => {
    if (!fs.mounted) {
      console.warn(fs.reason);
      ctx.skip();
    }
    ok(await cs(c.fol, 'activate', '1', '--source-data', c.pubData));
    await writeFile(join(src, 'data/huge.bin'), pseudoRandom(6 * 1024 * 1024, 11));
    await settle();
    const second = await csJson<PublishSummary>(c.pub, 'publish', src);

    const full = await cs(c.fol, 'activate', '2', '--source-data', c.pubData);
    expect(full.code, full.stderr).toBe(4);
    expect(full.stderr).toMatch(/E_NO_SPACE: no space left on device/);
    expect(await readlink(c.folLive)).toBe(join(mnt, 'releases', '1'));
    expect(await readFile(join(c.folLive, 'etc/app.conf'), 'utf8')).toBe(await readFile(join(src, 'etc/app.conf'), 'utf8'));
    const v = await cs(c.fol, 'verify');
    expect(v.code, v.stdout + v.stderr).toBe(0);

    execFileSync('mount', ['-o', 'remount,size=64m', mnt]);
    const r = await csJson<DeployResult>(c.fol, 'activate', '2', '--source-data', c.pubData);
    expect(r.version).toBe(2);
    // Pieces recorded before the disk filled up are not fetched again.
    expect(r.staged!.fromSource).toBeLessThan(second.newChunks);
    expect((await readFile(join(c.folLive, 'data/huge.bin'))).equals(pseudoRandom(6 * 1024 * 1024, 11))).toBe(true);
    expect((await cs(c.fol, 'verify', '--deep')).code).toBe(0);
  });
});
