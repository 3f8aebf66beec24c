import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSampleTree, pseudoRandom, settle } from '../support/tree.js';
import { runCli } from '../support/cli.js';
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

  it('a publish that fills the disk fails with E_NO_SPACE and leaves none of its copies behind', async (ctx) => {
    const pubMnt = join(dir, 'pub-mnt');
    const small = await mountSmallTmpfs(pubMnt, '4m', 'the full publish');
    if (!small.mounted) {
      console.warn(small.reason);
      ctx.skip();
    }
    try {
      const pub = join(pubMnt, 'pub');
      ok(await runCli(['init', '--publisher', '--dir', pub]));
      const config = join(pub, 'swarm.config.json');
      const full = await cs(config, 'publish', src, '--local');
      expect(full.code, full.stderr).toBe(4);
      expect(full.stderr).toMatch(/E_NO_SPACE: no space left on device while copying /);
      // The disk is as the publish found it: what it copied is gone (it stayed, and the disk full).
      expect(await readdir(join(pub, 'data', 'staging'))).toEqual([]);
      expect(statfsSync(pubMnt).bfree * statfsSync(pubMnt).bsize).toBeGreaterThan(3 * 1024 * 1024);
      await rm(join(src, 'data/huge.bin'));
      await settle();
      expect((await csJson<PublishSummary>(config, 'publish', src, '--local')).version).toBe(1);
    } finally {
      small.unmount();
    }
  });
});
