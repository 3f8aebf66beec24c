/**
 * Joining a node the way an operator does (issue 14): a publisher and 3 followers that enforce the
 * membership the publisher signs; `token create` on the master, `join <token>` for the new node,
 * the publisher stopped right after the invitation is redeemed, `serve`: the new node is admitted
 * by everyone and goes live from its peers alone. Then `remove` shuts it out: it is disconnected and
 * never hears of the next release.
 */
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, type NodeHandle } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { cli } from '../../bench/lib/run.js';
import { bytesLost, sleep } from '../faults/harness.js';
import { expectClusterOnLoopback } from '../support/cluster-net-guard.js';

let dir: string;
let src: string;
let cluster: LocalCluster;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-join-'));
  src = join(dir, 'source');
  await generateTree(src, { bytes: 8 << 20, files: 60, perDir: 20, seed: 14 });
  // Each node's bootstrap list as init and join write it: the publisher's node (a joined node: its token's list).
  cluster = await LocalCluster.create({
    dir, followers: 3, membership: true, netGuard: true, bootstrapList: 'as-written', extra: { verify: { intervalSec: 0 }, fleet: { reportIntervalSec: 1 } },
  });
  expect((await cluster.publish(src)).version).toBe(1);
  for (const n of cluster.nodes) cluster.start(n);
  await cluster.waitLive(cluster.followers, 1, 90_000);
}, 150_000);

afterAll(async () => {
  // Teardown: nothing here looks at how the nodes stop (a SIGTERM stop waited ~2 s leaving the swarm).
  await cluster?.close('SIGKILL');
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

const bootstrapOf = (n: NodeHandle) => `127.0.0.1:${n.port}`;
const remembered = async (n: NodeHandle): Promise<string[]> =>
  JSON.parse(await readFile(join(n.dataDir, 'bootstrap-nodes.json'), 'utf8').catch(() => '[]')) as string[];
const membershipVersion = async (n: NodeHandle) => (await cluster.status(n))?.membership.version ?? null;
const connectedTo = async (n: NodeHandle, key: string) => (await cluster.status(n))?.peers.some((p) => p.key === key && p.connected) ?? false;

describe('joining with a token, and removing (publisher + 3 followers enforcing the signed membership)', () => {
  let joiner: NodeHandle;
  const frontends = () => cluster.followers.filter((f) => f !== joiner);

  it('a joined node is admitted everywhere and goes live from its peers while the publisher is down', async () => {
    // status.json comes with serve's first tick, which a fast rollout can beat.
    await cluster.waitFor('the publisher to report its membership', async () => (await membershipVersion(cluster.publisher)) !== null, 10_000);
    const before = (await membershipVersion(cluster.publisher))!;
    expect(before).toBe(3);
    // The fleet reports name each node's bootstrap node; the master remembers the frontends', and the token carries them.
    await cluster.waitFor('the publisher to remember the frontends\' bootstrap nodes', async () => {
      const known = await remembered(cluster.publisher);
      return cluster.followers.every((f) => known.includes(bootstrapOf(f)));
    }, 20_000);
    // Its docroot is today a directory that rsync kept up to date, with a fix made by hand.
    const docroot = join(dir, 'www', 'cgi');
    await cp(src, docroot, { recursive: true, preserveTimestamps: true });
    const fixed = (await readdir(src, { recursive: true, withFileTypes: true })).find((e) => e.isFile())!;
    const fixedPath = relative(src, join(fixed.parentPath, fixed.name));
    await appendFile(join(docroot, fixedPath), 'fixed by hand\n');
    joiner = await cluster.joinFollower('joiner', { name: 'web-4', live: docroot, adopt: true });
    // What join wrote: the secrets 0600, a config that enforces the signed membership.
    expect((await stat(join(joiner.dir, 'cluster.secret'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(joiner.dataDir, 'node.seed'))).mode & 0o777).toBe(0o600);
    const cfg = JSON.parse(await readFile(joiner.config, 'utf8')) as { livePath: string; network: { allowlist: unknown; bootstrap: string[] } };
    expect(cfg.network.allowlist).toEqual([]);
    expect(cfg.network.bootstrap[0]).toBe(bootstrapOf(cluster.publisher));
    expect(new Set(cfg.network.bootstrap)).toEqual(new Set([cluster.publisher, ...frontends()].map(bootstrapOf)));
    expect(cfg.livePath).toBe(joiner.live);
    const list = JSON.parse((await cli(['-c', cluster.publisher.config, 'token', 'list', '--json'])).stdout) as Array<{ state: string; redeemed: Array<{ key: string; name: string }> }>;
    expect(list.map((i) => i.state)).toEqual(['used']);
    expect(list[0]!.redeemed).toEqual([expect.objectContaining({ key: joiner.key, name: 'web-4' })]);

    // The new record (with the joiner) reaches every follower from the running publisher.
    await cluster.waitFor('every follower to take the membership that admits the joiner', async () => {
      const all = await Promise.all(frontends().map(membershipVersion));
      return all.every((v) => v === before + 1);
    });
    const members = JSON.parse((await cli(['-c', frontends()[0]!.config, 'members', '--json'])).stdout) as { members: Array<{ key: string; name: string }> };
    expect(members.members).toContainEqual({ key: joiner.key, name: 'web-4' });

    await cluster.stop(cluster.publisher);
    cluster.start(joiner);
    await cluster.waitLive([joiner], 1, 90_000);
    expect(await bytesLost(src, joiner.live)).toBe(0);
    const s = (await cluster.status(joiner))!;
    expect(s.membership).toEqual({ version: before + 1, members: 5, enforced: true, member: true });
    expect(s.bytesFromPublisher).toBe(0);
    expect(s.bytesDown).toBeGreaterThan(8e6);
    expect(s.peers.filter((p) => p.connected).length).toBeGreaterThan(0);
    // The docroot it took over is kept whole beside it, and the hand fix is on record for the master's `drift pull`.
    expect((await readFile(join(`${docroot}.pre-chunkswarm`, fixedPath), 'utf8')).endsWith('fixed by hand\n')).toBe(true);
    const drift = JSON.parse((await cli(['-c', joiner.config, 'drift', 'list', '--json'])).stdout) as Array<{ counts: Record<string, number>; adopted?: { keptAt: string } }>;
    expect(drift).toEqual([expect.objectContaining({ counts: { added: 0, removed: 0, modified: 1, meta: 0, type: 0 }, adopted: expect.objectContaining({ keptAt: `${docroot}.pre-chunkswarm` }) })]);

    // A frontend whose config lists the publisher's bootstrap node alone, restarted while the
    // publisher is down, finds the others through the ones it remembers.
    const restarted = frontends()[0]!;
    expect((JSON.parse(await readFile(restarted.config, 'utf8')) as { network: { bootstrap: string[] } }).network.bootstrap).toEqual([bootstrapOf(cluster.publisher)]);
    await cluster.stop(restarted);
    cluster.start(restarted);
    await cluster.waitFor('the restarted frontend to find its peers without the publisher', async () =>
      ((await cluster.status(restarted))?.peers.filter((p) => p.connected).length ?? 0) >= 2, 30_000);
  });

  it('remove disconnects the node everywhere, and it receives no later release', async () => {
    cluster.start(cluster.publisher);
    await cluster.waitFor('the joiner and the publisher to meet again', () => connectedTo(cluster.publisher, joiner.key!));
    const removed = JSON.parse((await cli(['-c', cluster.publisher.config, 'remove', joiner.key!, '--json'])).stdout) as { version: number; members: Array<{ key: string }> };
    expect(removed.members.map((m) => m.key)).not.toContain(joiner.key);
    await cluster.waitFor('every node to take the membership without the joiner and drop it', async () => {
      for (const n of [cluster.publisher, ...frontends()]) {
        if ((await membershipVersion(n)) !== removed.version || (await connectedTo(n, joiner.key!))) return false;
      }
      return true;
    });
    // Turned away, it is shown the record that leaves it out, so it says why instead of only losing its peers.
    await cluster.waitFor('the removed node to learn it was removed', async () => {
      const m = (await cluster.status(joiner))?.membership;
      return m?.version === removed.version && m.member === false;
    }, 30_000);
    expect((await cluster.status(joiner))!.problems).toContainEqual(expect.objectContaining({ id: 'not-member', level: 'error' }));
    expect(await cluster.log(joiner)).toMatch(new RegExp(`this node \\(${joiner.key!.slice(0, 12)}\\) is not in membership version ${removed.version}: the other nodes refuse it`));

    await cli(['-c', cluster.publisher.config, 'publish', src, '--force']);
    await cluster.waitLive(frontends(), 2, 60_000);
    // The followers pass a new head on the moment they take it: a node still connected anywhere
    // would have it by now. Give the removed one a few more seconds to show it does not.
    await sleep(3000);
    const s = (await cluster.status(joiner))!;
    expect(s.newest?.version).toBe(1);
    expect(s.live).toBe(1);
    expect(s.peers.filter((p) => p.connected)).toEqual([]);
    const refused = await Promise.all([cluster.publisher, ...frontends()].map(async (n) => (await cluster.status(n))!.swarm.rejectedAllowlist));
    expect(refused.some((r) => (r ?? 0) > 0)).toBe(true);
  });

  it('a master restored from a backup (its keys, node.seed and membership.json) catches up with the cluster and publishes above it', async () => {
    const pub = cluster.publisher;
    await cluster.stop(pub);
    // The disk is lost; what the README says to back up is put back on a new one.
    await rename(pub.dataDir, `${pub.dataDir}.lost`);
    await mkdir(pub.dataDir);
    for (const f of ['node.seed', 'membership.json']) await cp(join(`${pub.dataDir}.lost`, f), join(pub.dataDir, f), { preserveTimestamps: true });
    cluster.start(pub);
    await cluster.waitFor('the restored master to learn release 2 from the nodes', async () => (await cluster.status(pub))?.newest?.version === 2, 30_000);
    expect(await cluster.log(pub)).toMatch(/release 2, signed with this master's key, came from .* newer than any in this master's data directory .*its next publish is 3/);
    const next = JSON.parse((await cli(['-c', pub.config, 'publish', src, '--force', '--json'])).stdout) as { version: number };
    expect(next.version).toBe(3);
    await cluster.waitLive(frontends(), 3, 60_000);
  });

  it('no node opened a socket to an address outside 127.0.0.0/8', async () => {
    await expectClusterOnLoopback(cluster);
  });
});
