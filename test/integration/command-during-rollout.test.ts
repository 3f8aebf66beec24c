/**
 * An operator's `activate <v> --source-data` carried out by the running `serve`: the release's
 * head lands in the node's store at the start of the command, and the node's own rollout finds it
 * there within a second. The command's staging and the rollout's must not both work on
 * staging/<v>: before, the rollout opened the same directory while the command staged it, the
 * release went live with a drift record of hundreds of paths the node had rewritten itself, and
 * the rollout then failed on a staging directory that was gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readlink, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../support/cli.js';
import { settle } from '../support/tree.js';
import { cs, editConfig, makeCluster, ok, type Cluster } from './deploy-fixture.js';
import { freeTcpPort, freeUdpPort } from '../../bench/lib/ports.js';

const DIRS = 40;
const PER_DIR = 100;

let dir: string;
let src: string;
let c: Cluster;
let node: ChildProcess | null = null;
let log = '';

/** Rewrites every `every`-th file of the tree (all of them with 1), so that a staging has work to do. */
async function writeTree(round: number, every: number): Promise<void> {
  for (let d = 0; d < DIRS; d++) {
    await mkdir(join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < PER_DIR; f += every) await writeFile(join(src, `d${d}`, `f${f}`), `round ${round} file ${d}/${f}\n`);
  }
  await settle();
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the node's log:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-command-rollout-'));
  src = join(dir, 'src');
  await writeTree(1, 1);
  c = await makeCluster(dir);
  ok(await cs(c.pub, 'publish', src));
  ok(await cs(c.fol, 'activate', '1', '--source-data', c.pubData));
  // The follower's own DHT node and nothing else: no peer, so nothing reaches it but the command.
  const port = await freeUdpPort();
  const tcp = await freeTcpPort();
  await editConfig(c.fol, (cfg) => {
    cfg.network = { ...cfg.network, bootstrap: [`127.0.0.1:${port}`], bootstrapPort: port, port: tcp };
  });
  node = spawn(process.execPath, [CLI, '-c', c.fol, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
  node.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await until(() => /joined the cluster/.test(log), 'the follower to join');
}, 120_000);

afterAll(async () => {
  if (node && node.exitCode === null) {
    node.kill('SIGTERM');
    await new Promise((r) => node!.once('exit', r));
  }
  await rm(dir, { recursive: true, force: true });
});

describe('an operator command while the node rolls out', () => {
  it('activate --source-data of a new release through the running node: one staging, no false drift, no failed step', async () => {
    for (const v of [2, 3]) {
      await writeTree(v, 2);
      ok(await cs(c.pub, 'publish', src));
      const from = log.length;
      const r = ok(await cs(c.fol, 'activate', String(v), '--source-data', c.pubData));
      expect(r.stderr).toMatch(/done by the running node/);
      // Long enough for the node's tick to find the head and for a second staging to fail.
      await new Promise((res) => setTimeout(res, 2500));
      const after = log.slice(from);
      expect(after, after).not.toMatch(/changed on disk before it went live/);
      expect(after, after).not.toMatch(/error:/);
      expect(after, after).toMatch(new RegExp(`release ${v} is live`));
      expect(await readlink(c.folLive)).toMatch(new RegExp(`releases/${v}$`));
      expect(await readdir(join(c.folData, 'drift')).catch(() => [])).toEqual([]);
      expect(await readdir(join(c.folData, 'staging'))).toEqual([]);
    }
    const v = await cs(c.fol, 'verify');
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 120_000);
});
