/**
 * Fault 3: members that hold the cluster secret but serve corrupt chunks, claim pieces they decline
 * to send, or never answer. Every honest follower bans each of them, with the reason in `status`,
 * the rollout takes about as long as without them, and no release holds a wrong byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { runCli } from '../support/cli.js';
import { since, startRogue, sumBytesLost, type Rogue } from './harness.js';
import { declareCases } from './record.js';

const TREE = { bytes: 4 * 1024 * 1024, files: 24, perDir: 8 };
const MODES = { 'corrupt-chunks': /bad piece \d+: piece \d+, chunk \d+: expected hash \w+, got \w+/, 'lying-bitfield': /announced pieces it does not send/, stall: /stalls piece requests/ } as const;
let dir: string;
let cluster: LocalCluster;
const rogues: Rogue[] = [];

/** Publishes a fresh tree of TREE's size as the next release; returns its source and rollout time. */
async function rollout(seed: number): Promise<{ source: string; seconds: number; version: number }> {
  const source = join(dir, `source-${seed}`);
  await generateTree(source, { ...TREE, seed });
  const t0 = performance.now();
  const { version } = await cluster.publish(source);
  await cluster.waitLive(cluster.followers, version!, 90_000);
  return { source, seconds: since(t0), version: version! };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-fault-rogue-'));
  // Rates that make a rollout last a few seconds; short timeouts so that a staller shows quickly.
  cluster = await LocalCluster.create({
    dir, followers: 4, limits: { uploadBytesPerSec: 1024 * 1024, requestTimeoutMs: 1000 }, extra: { verify: { intervalSec: 0 } },
  });
  for (const n of cluster.nodes) cluster.start(n);
  await cluster.waitFor('every node to run', async () => (await Promise.all(cluster.nodes.map((n) => cluster.status(n)))).every((s) => s !== null));
}, 60_000);

afterAll(async () => {
  for (const r of rogues) r.kill();
  // Teardown: nothing here looks at how the nodes stop.
  await cluster?.close('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('fault 3: malicious members', () => {
  it('are banned with their reason, the rollout keeps its pace, and no release holds a bad byte', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: '3 malicious peer', tried: Object.keys(MODES).length });
    const honest = await rollout(31);
    for (const mode of Object.keys(MODES)) rogues.push(startRogue(cluster.followers[0]!.config, mode, 120));
    const keys = await Promise.all(rogues.map((r) => r.key));
    // Every honest node must have met every rogue before the release is announced.
    await cluster.waitFor('the rogues to connect to every node', async () => {
      const all = await Promise.all(cluster.nodes.map((n) => cluster.status(n)));
      return all.every((s) => keys.every((k) => s?.peers.some((p) => p.key === k && p.connected)));
    }, 30_000);
    // A staller is left alone for a while, then banned on its third round of unanswered requests:
    // a rollout that ends sooner (the publisher no longer defers new pieces to members that claim
    // them) leaves it unbanned, and the next release brings its next round.
    const attacked: Array<Awaited<ReturnType<typeof rollout>>> = [];
    let bans = new Map<(typeof cluster.nodes)[number], Array<{ key: string; reason: string }>>();
    for (let seed = 32; seed < 35; seed++) {
      attacked.push(await rollout(seed));
      // One `status --json` per node, all at once (the bans are final: a banned key stays banned).
      bans = new Map(await Promise.all(cluster.nodes.map(async (n) => [n, (await runCliJson(n.config)).banned] as const)));
      if (cluster.followers.every((f) => keys.every((k) => bans.get(f)!.some((b) => b.key === k)))) break;
    }
    // Nobody honest was banned by anyone.
    for (const n of cluster.nodes) {
      const wrong = bans.get(n)!.filter((b) => !keys.includes(b.key));
      expect(wrong, `${n.name} banned honest nodes`).toEqual([]);
    }
    for (const f of cluster.followers) {
      const banned = bans.get(f)!;
      Object.values(MODES).forEach((reason, i) => {
        const entry = banned.find((b) => b.key === keys[i]);
        expect(entry?.reason, `${f.name} on rogue ${Object.keys(MODES)[i]}`).toMatch(reason);
      });
    }
    meta.bytesLost = await sumBytesLost(attacked.at(-1)!.source, cluster.followers);
    const corrupt = rogues[0]!.events.filter((e) => e.event === 'stats').pop();
    meta.notes = [
      `rollout ${honest.seconds.toFixed(1)} s without rogues, ${attacked.map((a) => a.seconds.toFixed(1)).join(', ')} s with them; corrupt pieces sent: ${corrupt?.corrupt}`,
    ];
    expect(meta.bytesLost).toBe(0);
    expect(Number(corrupt?.corrupt)).toBeGreaterThan(0);
    // The pace with and without rogues is printed above; speed is a benchmark's job (bench:flood),
    // not a timed assertion on a shared machine.
    const deep = await runCli(['-c', cluster.followers[0]!.config, 'verify', '--deep']);
    expect(deep.code, deep.stdout).toBe(0);
  }, 180_000);
});

async function runCliJson(config: string): Promise<{ banned: Array<{ key: string; reason: string }> }> {
  const r = await runCli(['-c', config, 'status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { banned: Array<{ key: string; reason: string }> };
}
