import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { pseudoRandom, settle } from '../support/tree.js';
import { CLI } from '../support/cli.js';
import { cs, csJson, ok, publishedCluster, type Cluster } from './deploy-fixture.js';
import { Deployer, loadConfig, type DeployResult } from '../../src/index.js';

/** Compiled next to the CLI by `npm test` (tsc), like the CLI itself. */
const CHILD = join(dirname(CLI), '..', '..', 'test', 'integration', 'deploy-stage-child.js');

let dir: string;
let src: string;
let c: Cluster;

beforeAll(async () => {
  ({ dir, src, c } = await publishedCluster('cs-deploy-crash-', { activated: true }));
  await writeFile(join(src, 'data/new.bin'), pseudoRandom(2_500_000, 7));
  await settle();
  ok(await cs(c.pub, 'publish', src));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the slow stager and SIGKILLs it once at least `atLeast` pieces were recorded; returns the recorded pieces. */
async function stageAndKill(atLeast: number): Promise<{ recorded: number[]; toFetch: number }> {
  const child = spawn(process.execPath, [CHILD, c.fol, c.pubData, '2', '25'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const writing: number[] = [];
  let recorded: number[] = [];
  let toFetch = -1;
  const exited = new Promise<number | null>((r) => child.on('exit', (_code, signal) => r(signal === 'SIGKILL' ? 9 : _code)));
  for await (const line of createInterface({ input: child.stdout })) {
    const m = JSON.parse(line) as { writing?: number; recorded?: number; missing?: number; done?: boolean };
    if (m.missing !== undefined) toFetch = m.missing;
    if (m.writing !== undefined) writing.push(m.writing);
    // Writes are sequential, so every piece announced before a flush record is in it.
    if (m.recorded !== undefined) recorded = [...writing];
    if (recorded.length >= atLeast || m.done) {
      child.kill('SIGKILL');
      break;
    }
  }
  expect(await exited).toBe(9);
  return { recorded, toFetch };
}

describe('deploy: crash safety', () => {
  it('staging killed with SIGKILL resumes without writing any recorded piece again', async () => {
    const { recorded, toFetch } = await stageAndKill(12);
    expect(recorded.length).toBeGreaterThanOrEqual(12);
    expect(toFetch).toBeGreaterThan(recorded.length);

    const deployer = await Deployer.open(await loadConfig(c.fol));
    const stager = await deployer.stage(await deployer.releases.head(2));
    const missing = stager.missing();
    await stager.close();
    expect(missing.filter((i) => recorded.includes(i))).toEqual([]);
    expect(missing.length).toBeLessThanOrEqual(toFetch - recorded.length);
    expect(missing.length).toBeGreaterThan(0);

    // The resumed activation fetches exactly what was missing, while livePath is read in a loop.
    let reads = 0;
    const bad: string[] = [];
    let running = true;
    const valid = [1, 2].map((v) => join(c.folData, 'releases', String(v)));
    const poller = (async () => {
      while (running) {
        try {
          const target = await readlink(c.folLive);
          if (!valid.includes(target)) bad.push(`livePath -> ${target}`);
          await readFile(join(c.folLive, 'etc/app.conf'));
          reads++;
        } catch (err) {
          bad.push(String(err));
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    const r = await csJson<DeployResult>(c.fol, 'activate', '2', '--source-data', c.pubData);
    running = false;
    await poller;
    expect(bad).toEqual([]);
    expect(reads).toBeGreaterThan(10);
    expect(r.staged!.fromSource).toBe(missing.length);
    expect(await readlink(c.folLive)).toBe(valid[1]);
    expect((await readFile(join(c.folLive, 'data/new.bin'))).equals(pseudoRandom(2_500_000, 7))).toBe(true);
    expect((await cs(c.fol, 'verify', '--deep')).code).toBe(0);
  });

  it('activation killed at any moment leaves livePath on a complete release and no temp link behind', async () => {
    await writeFile(join(src, 'data/third.bin'), pseudoRandom(1_500_000, 9));
    await settle();
    ok(await cs(c.pub, 'publish', src));
    for (const delay of [40, 120, 250, 400]) {
      const child = spawn(process.execPath, [CLI, '-c', c.fol, 'activate', '3', '--source-data', c.pubData], { stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      const target = await readlink(c.folLive);
      expect([2, 3].map((v) => join(c.folData, 'releases', String(v)))).toContain(target);
      expect((await readdir(join(target, 'etc'))).length).toBeGreaterThan(0);
    }
    ok(await cs(c.fol, 'activate', '3', '--source-data', c.pubData));
    expect((await readdir(dirname(c.folLive))).filter((n) => n.includes('chunkswarm-'))).toEqual([]);
    expect(await readlink(c.folLive)).toBe(join(c.folData, 'releases', '3'));
    expect((await cs(c.fol, 'verify', '--deep')).code).toBe(0);
  });
});
