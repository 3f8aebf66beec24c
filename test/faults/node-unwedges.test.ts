/**
 * Fault 7: a running node never stops for good after one failed step. A blocked activation, a
 * full disk and a local file that fails verification are each retried until they succeed, the
 * error stays in `status` meanwhile, and operator commands (drift ack, rollback, unpin) reach the
 * running `serve` at once, without a restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type NodeHandle } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { runCli } from '../support/cli.js';
import { pseudoRandom, settle } from '../support/tree.js';
import { bytesLost, editConfig, startPublisher } from './harness.js';
import { declareCases } from './record.js';
import type { NodeStatusReport } from '../../src/index.js';

let dir: string | undefined;
let cluster: LocalCluster | undefined;
let mounted: string | null = null;

afterEach(async () => {
  // Teardown: nothing here looks at how the nodes stop (a SIGTERM stop waited ~2 s leaving the swarm).
  await cluster?.close('SIGKILL');
  if (mounted) execFileSync('umount', ['-l', mounted]);
  if (dir) await rm(dir, { recursive: true, force: true });
  cluster = dir = undefined;
  mounted = null;
});

async function setUp(prefix: string, follower: (cfg: Record<string, any>) => void = () => undefined) {
  dir = await mkdtemp(join(tmpdir(), prefix));
  const source = join(dir, 'source');
  const [c] = await Promise.all([
    LocalCluster.create({ dir, followers: 1, extra: { verify: { intervalSec: 0 } } }),
    generateTree(source, { bytes: 2 * 1024 * 1024, files: 12, perDir: 6, seed: 7 }),
  ]);
  cluster = c;
  const f = c.followers[0]!;
  await editConfig(f, follower);
  await c.publish(source);
  await startPublisher(c);
  c.start(f);
  await c.waitLive([f], 1);
  return { c, f, source };
}

const cs = (n: NodeHandle, ...args: string[]) => runCli(['-c', n.config, ...args]);

/** What `status --json` tells (from the running node itself: status.json may be a second old, or unwritable). */
async function statusOf(n: NodeHandle): Promise<NodeStatusReport | null> {
  const r = await cs(n, 'status', '--json');
  return r.stdout ? (JSON.parse(r.stdout) as NodeStatusReport) : null;
}

async function errorCode(n: NodeHandle): Promise<string | null> {
  return (await statusOf(n))?.lastError?.code ?? null;
}

/** A regular file of the live tree, the first in name order. */
async function someLiveFile(source: string): Promise<string> {
  const walk = async (rel: string): Promise<string | null> => {
    for (const d of (await readdir(join(source, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isFile()) return p;
      if (d.isDirectory()) {
        const inner = await walk(p);
        if (inner) return inner;
      }
    }
    return null;
  };
  return (await walk(''))!;
}

describe('fault 7: a node that failed a step carries on by itself', () => {
  it('E_DRIFT under policy "block": reported in status, then "drift ack" on the running node lets the release through', async (ctx) => {
    declareCases(ctx, { kind: 'fault', group: '7 failed steps retried', tried: 1 });
    const { c, f, source } = await setUp('cs-fault-wedge-drift-', (cfg) => (cfg.drift = { policy: 'block' }));
    const edited = await someLiveFile(source);
    await writeFile(join(f.live, edited), 'a hand edit\n');
    await writeFile(join(source, 'new-file.txt'), 'release 2\n');
    await settle();
    await c.publish(source);
    await c.waitFor('the follower to report E_DRIFT', async () => (await errorCode(f)) === 'E_DRIFT');
    const st = (await statusOf(f))!;
    expect(st.live).toBe(1);
    expect(st.problems.some((p) => p.level === 'error' && p.text.startsWith('E_DRIFT'))).toBe(true);
    // The blocked activation's own check of the live tree is its drift report (the periodic one is
    // off here): the fleet showed "blocked by drift" beside "drift 0" before.
    expect(st.verify).toMatchObject({ added: 0, removed: 0, changed: 1 });
    expect((await cs(f, 'status')).code, 'status exits non-zero while the node is in error').toBe(1);
    // An operator's verify says the same...
    expect((await cs(f, 'verify')).code, 'verify: content changed').toBe(4);
    await c.waitFor('status to report the hand edit', async () => ((await statusOf(f))?.verify?.changed ?? 0) > 0);

    const ack = await cs(f, 'drift', 'ack');
    expect(ack.code, ack.stderr).toBe(0);
    expect(ack.stderr).toMatch(/done by the running node/);
    await c.waitLive([f], 2, 20_000);
    expect(await errorCode(f)).toBeNull();
    expect(await readFile(join(f.live, 'new-file.txt'), 'utf8')).toBe('release 2\n');
    // ...until the release that replaced the edited tree is live: activation checked every file of it.
    await c.waitFor('status to report the new live tree clean', async () => (await statusOf(f))?.verify?.changed === 0, 10_000);
  }, 120_000);

  it('rollback then unpin on the running node: pinned at the old release, then back on the newest without a restart', async (ctx) => {
    declareCases(ctx, { kind: 'fault', group: '7 failed steps retried', tried: 1 });
    const { c, f, source } = await setUp('cs-fault-wedge-pin-');
    await writeFile(join(source, 'new-file.txt'), 'release 2\n');
    await settle();
    await c.publish(source);
    await c.waitLive([f], 2);

    const back = await cs(f, 'rollback');
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toMatch(/done by the running node/);
    await c.waitFor('the follower pinned at release 1', async () => {
      const s = await c.status(f);
      return s?.live === 1 && s.pinned;
    }, 10_000);
    // Pinned: the running node does not move forward again by itself.
    const pinned = (await c.status(f))!;
    expect(pinned.problems.some((p) => p.level === 'info' && /pinned at release 1/.test(p.text))).toBe(true);

    const un = await cs(f, 'unpin');
    expect(un.code, un.stderr).toBe(0);
    await c.waitLive([f], 2, 20_000);
    expect((await c.status(f))!.pinned).toBe(false);
    expect(await bytesLost(source, f.live)).toBe(0);
  }, 120_000);

  it('a local donor edited with size and mtime kept fails verification: retried, its pieces fetched again, the release goes live clean', async (ctx) => {
    declareCases(ctx, { kind: 'fault', group: '7 failed steps retried', tried: 1 });
    const { c, f, source } = await setUp('cs-fault-wedge-hash-');
    const victim = await someLiveFile(source);
    const path = join(f.live, victim);
    const before = await stat(path);
    const bytes = await readFile(path);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(path, bytes);
    await utimes(path, before.atime, before.mtime);
    await writeFile(join(source, 'new-file.txt'), 'release 2\n');
    await settle();
    await c.publish(source);
    await c.waitLive([f], 2, 60_000);
    expect(await bytesLost(source, f.live)).toBe(0);
    const deep = await cs(f, 'verify', '--deep');
    expect(deep.code, deep.stdout).toBe(0);
  }, 120_000);

  it('E_NO_SPACE while fetching: reported, and the running node finishes once space is freed', async (ctx) => {
    let mnt = '';
    const { c, f, source } = await setUp('cs-fault-wedge-enospc-', () => undefined);
    mnt = join(dir!, 'mnt');
    await mkdir(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { stdio: 'pipe' });
      mounted = mnt;
    } catch (err) {
      console.warn(`cannot mount a small tmpfs (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}); ENOSPC case skipped`);
      ctx.skip();
    }
    declareCases(ctx, { kind: 'fault', group: '7 failed steps retried', tried: 1 });
    // Move the follower onto the small file system, fresh: it fetches release 1 there first.
    await c.stop(f);
    await editConfig(f, (cfg) => {
      cfg.dataDir = join(mnt, 'data');
      cfg.livePath = join(mnt, 'live');
    });
    f.dataDir = join(mnt, 'data');
    f.live = join(mnt, 'live');
    c.start(f);
    await c.waitLive([f], 1);
    await writeFile(join(source, 'huge.bin'), pseudoRandom(6 * 1024 * 1024, 11));
    await settle();
    await c.publish(source);
    await c.waitFor('the follower to report E_NO_SPACE', async () => (await errorCode(f)) === 'E_NO_SPACE');
    expect((await statusOf(f))!.live).toBe(1);
    execFileSync('mount', ['-o', 'remount,size=64m', mnt]);
    await c.waitLive([f], 2, 90_000);
    expect(await errorCode(f)).toBeNull();
    expect(await bytesLost(source, f.live)).toBe(0);
  }, 180_000);

  it('a second serve on the same data directory is refused with E_LOCKED, naming the first', async (ctx) => {
    declareCases(ctx, { kind: 'fault', group: '7 failed steps retried', tried: 1 });
    const { f } = await setUp('cs-fault-wedge-lock-');
    const second = await cs(f, 'serve');
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/E_LOCKED: .* is in use by chunkswarm serve \(pid \d+/);
    expect(second.stderr).not.toMatch(/at .*\.js:\d+/);
  }, 120_000);
});
