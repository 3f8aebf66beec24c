/**
 * Fault 5, at the exact moments deploy-crash.test.ts only hits by chance: the process dies after
 * releases/<v> was renamed into place but before livePath was swapped, in the middle of the swap
 * (temp link made, not yet renamed over livePath), and after the swap but before state.json. A
 * preActivate hook runs in the first window, so it can SIGKILL the CLI there. On the next start
 * the node is in exactly one consistent state, old or new, and never has a dangling livePath.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pseudoRandom, settle } from '../support/tree.js';
import { cs, editConfig, ok, publishedCluster, type Cluster } from '../integration/deploy-fixture.js';
import { bytesLost } from './harness.js';
import { declareCases, type FaultMeta } from './record.js';

let dir: string;
let src: string;
let c: Cluster;
const release = (v: number) => join(c.folData, 'releases', String(v));

beforeAll(async () => {
  ({ dir, src, c } = await publishedCluster('cs-fault-activate-', { activated: true }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Publishes a change, then runs `activate` with a preActivate hook that ends in `kill -9 $PPID`. */
async function crashInActivation(version: number, hook: string): Promise<void> {
  await writeFile(join(src, `data/v${version}.bin`), pseudoRandom(300_000, version));
  await settle();
  ok(await cs(c.pub, 'publish', src));
  await editConfig(c.fol, (cfg) => (cfg.hooks = { preActivate: `${hook}; kill -9 $PPID` }));
  const r = await cs(c.fol, 'activate', String(version), '--source-data', c.pubData);
  await editConfig(c.fol, (cfg) => (cfg.hooks = { preActivate: null }));
  // execFile reports a signal death as a null exit code, which runCli maps to 1.
  expect(r.code, r.stderr).not.toBe(0);
}

/** After a restart (any command opens the deploy store and repairs): livePath on `version`, clean. */
async function expectConsistent(version: number): Promise<void> {
  const v = await cs(c.fol, 'verify');
  expect(v.code, v.stdout + v.stderr).toBe(0);
  expect(await readlink(c.folLive)).toBe(release(version));
  expect(JSON.parse(await readFile(join(c.folData, 'state.json'), 'utf8')).live).toBe(version);
  expect((await readdir(dirname(c.folLive))).filter((n) => n.includes('.chunkswarm-'))).toEqual([]);
}

/** The live tree holds every byte of the source (recorded for the report) and deep-verifies clean. */
async function expectWhole(meta: FaultMeta): Promise<void> {
  meta.bytesLost = await bytesLost(src, c.folLive);
  expect(meta.bytesLost).toBe(0);
  expect((await cs(c.fol, 'verify', '--deep')).code).toBe(0);
}

/** After the crash, the release that was being activated can be activated, and ends up whole. */
async function activatesAfterTheCrash(version: number, meta: FaultMeta): Promise<void> {
  ok(await cs(c.fol, 'activate', String(version), '--source-data', c.pubData));
  await expectConsistent(version);
  await expectWhole(meta);
}

describe('fault 5: a crash inside activation', () => {
  it('between the rename of the release and the symlink swap: old release live, new one activates later', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: '5 crash in activation', tried: 1 });
    await crashInActivation(2, 'true');
    expect((await readdir(join(c.folData, 'releases'))).sort()).toEqual(['1', '2']);
    expect(await readdir(join(c.folData, 'staging')).catch(() => [])).not.toContain('2');
    await expectConsistent(1);
    await activatesAfterTheCrash(2, meta);
  });

  it('during the swap (temp link made, not renamed): the temp link goes, the old release stays live', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: '5 crash in activation', tried: 1 });
    // What swapLive's first step leaves: a symlink to the new release next to livePath.
    const tmp = join(dirname(c.folLive), '.live.chunkswarm-0123456789ab.tmp');
    await crashInActivation(3, `ln -s "$CHUNKSWARM_RELEASE_DIR" ${tmp}`);
    expect(await readlink(tmp)).toBe(release(3));
    await expectConsistent(2);
    await activatesAfterTheCrash(3, meta);
  });

  it('after the swap, before state.json: the new release is live and state.json follows it', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: '5 crash in activation', tried: 1 });
    await writeFile(join(src, 'data/v4.bin'), pseudoRandom(300_000, 4));
    await settle();
    ok(await cs(c.pub, 'publish', src));
    ok(await cs(c.fol, 'activate', '4', '--source-data', c.pubData));
    // The rename over livePath is done; the state write that follows it is not.
    await writeFile(join(c.folData, 'state.json'), JSON.stringify({ live: 3, pinned: false }));
    await expectConsistent(4);
    await expectWhole(meta);
  });
});
