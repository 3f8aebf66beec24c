import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile, copyFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type NodeHandle } from '../../bench/lib/cluster.js';
import { runCli } from '../support/cli.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { cli } from '../../bench/lib/run.js';
import { repoRoot } from '../../bench/lib/results.js';
import { spawn } from 'node:child_process';
import { expectClusterOnLoopback } from '../support/cluster-net-guard.js';
import { ObjectStore, ReleaseStore } from '../../src/store/index.js';
import { releasePieces, walkTree } from '../../src/manifest/index.js';
import type { VerifyResult } from '../../src/deploy/index.js';
import type { NodeStatusReport } from '../../src/session/status.js';
import { eachRecord } from '../../src/store/journal-records.js';

const TREE_BYTES = 64 * 1024 * 1024;
let dir: string;
let src: string;
let cluster: LocalCluster;
/** A node with the wrong cluster secret, started with the cluster (see the test on it). */
let intruderNode: NodeHandle | undefined;

async function treeDigest(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string) => {
    for (const d of await readdir(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(p);
      else out.set(p, createHash('sha256').update(await readFile(join(root, p))).digest('hex'));
    }
  };
  await walk('');
  return out;
}

/** Every node's live tree is the source's (hashed once, not once per node), checked all at once. */
async function expectSameTree(...nodes: NodeHandle[]): Promise<void> {
  const want = await treeDigest(src);
  await Promise.all(nodes.map(async (node) => {
    const got = await treeDigest(node.live);
    expect(got.size, node.name).toBe(want.size);
    expect(got, node.name).toEqual(want);
  }));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-rollout-'));
  src = join(dir, 'source');
  // The publisher answers the object requests of 2 followers at a time: the other 4 must find them on those.
  [cluster] = await Promise.all([
    LocalCluster.create({ dir, followers: 6, netGuard: true, limits: { objectClients: 2 }, extra: { verify: { intervalSec: 0 } } }),
    generateTree(src, { bytes: TREE_BYTES, files: 300, perDir: 40, seed: 3 }),
  ]);
  const first = await cluster.publish(src);
  expect(first.version).toBe(1);
  cluster.start(cluster.publisher);
  await cluster.waitFor('the publisher to serve', async () => (await cluster.status(cluster.publisher))?.phase === 'seeding');
  for (const f of cluster.followers) cluster.start(f);
  // The node with the wrong secret reports that it found no peer only after ALONE_GRACE_SEC (10 s)
  // of uptime: started now, that grace passes during the rollout instead of in its own test. It
  // is not one of cluster.followers, so nothing else waits on it or checks it.
  const intruder = await cluster.addFollower('intruder');
  cluster.followers.pop();
  await writeFile(join(intruder.dir, 'cluster.secret'), randomBytes(32).toString('hex'), { mode: 0o600 });
  cluster.start(intruder);
  intruderNode = intruder;
}, 120_000);

afterAll(async () => {
  if (intruderNode) await cluster?.stop(intruderNode, 'SIGKILL');
  // Teardown: nothing here looks at how the nodes stop (a SIGTERM stop waited ~2 s leaving the swarm).
  await cluster?.close('SIGKILL');
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

describe('a rollout over the swarm (publisher + 6 followers, real processes)', () => {
  it('delivers a 64 MB tree byte-identical to every follower, mostly from each other', async () => {
    await cluster.waitLive(cluster.followers, 1, 150_000);
    await expectSameTree(...cluster.followers);
    const pub = (await cluster.status(cluster.publisher))!;
    expect(pub.bytesUp).toBeGreaterThan(0);
    expect(pub.bytesUp).toBeLessThan(2 * TREE_BYTES);
    const fromPeers = (await Promise.all(cluster.followers.map((f) => cluster.status(f)))).reduce(
      (n, s) => n + s!.bytesDown - s!.bytesFromPublisher,
      0,
    );
    expect(fromPeers).toBeGreaterThan(pub.bytesUp);
    const objectsFetched = (await Promise.all(cluster.followers.map((f) => cluster.status(f)))).reduce((n, s) => n + s!.objectsFetched, 0);
    expect(pub.objectsServed).toBeGreaterThan(0);
    // Answering all 6 would be 6 copies of the objects; 2 at a time is about 2 (measured: 2.0-2.3),
    // and up to 4 when the machine is so loaded that an admitted follower falls silent for longer
    // than the admission's idle time and its place goes to another (seen once in a full suite run).
    expect(pub.objectsServed, `the publisher sent ${pub.objectsServed} of the ${objectsFetched} objects the followers fetched`).toBeLessThanOrEqual((objectsFetched * 2) / 3);
    // Served for a while, the release gets its packs on the publisher: started again, it reads one file, not one per object.
    const root = (await new ReleaseStore(cluster.publisher.dataDir).head(1)).body.root;
    const packs = join(cluster.publisher.dataDir, 'objects', 'packs');
    await cluster.waitFor('the publisher to pack release 1', async () => {
      const names = await readdir(packs).catch(() => [] as string[]);
      return names.includes(root) && names.includes(`${root}.trees`);
    }, 30_000);
  }, 180_000);

  it('moves only the changed chunks and the tree objects on their paths for an update, and fetches again an object damaged on disk', async () => {
    const files = (await treeDigest(src)).keys();
    const changed = [...files].slice(0, 3);
    await appendFile(join(src, changed[0]!), 'appended by the test\n');
    const middle = await readFile(join(src, changed[1]!));
    middle.write('edited in the middle', Math.floor(middle.length / 2));
    await writeFile(join(src, changed[1]!), middle);
    await writeFile(join(src, changed[2]!), randomBytes(5000));
    // One flipped byte in follower-1's stored object of an unchanged file (and no pack to load it
    // from instead, nor a copy in memory: it is restarted): fetched again from a peer while
    // staging, not a failure at every retry.
    const damaged = cluster.followers[0]!;
    await cluster.stop(damaged);
    const releases1 = new ReleaseStore(cluster.publisher.dataDir);
    const pubObjects = new ObjectStore(releases1.objectsDir);
    let kept: string | null = null;
    await walkTree((await releases1.head(1)).body.root, (h) => pubObjects.getTree(h), (path, e) => {
      if (kept === null && e.type === 'file' && !changed.includes(path)) kept = e.hash!;
    });
    const journals = join(damaged.dataDir, 'objects', 'journal');
    let flipped = 0;
    for (const name of await readdir(journals)) {
      const bytes = await readFile(join(journals, name));
      eachRecord(bytes, (hash, start) => {
        if (hash !== kept) return;
        bytes[start + 36] = bytes[start + 36]! ^ 0xff;
        flipped++;
      });
      await writeFile(join(journals, name), bytes);
    }
    expect(flipped).toBe(1);
    await rm(join(damaged.dataDir, 'objects', 'packs'), { recursive: true, force: true });
    cluster.start(damaged);
    await cluster.waitFor('follower-1 to be back', async () => (await cluster.status(damaged))?.phase === 'seeding');
    const before = await Promise.all(cluster.followers.map((f) => cluster.status(f)));
    const second = await cluster.publish(src);
    expect(second.version).toBe(2);
    await cluster.waitLive(cluster.followers, 2, 60_000);
    await expectSameTree(...cluster.followers);
    expect(await cluster.log(damaged)).toMatch(new RegExp(`expected hash ${kept!}, got [0-9a-f]{64}: fetching object ${kept!.slice(0, 12)} again from peers`));
    const after = await Promise.all(cluster.followers.map((f) => cluster.status(f)));
    // A piece is a run of chunks: the pieces holding a new chunk may hold old ones beside it.
    const pieces = async (v: number) => {
      const releases = new ReleaseStore(cluster.publisher.dataDir);
      const objects = new ObjectStore(releases.objectsDir);
      return releasePieces((await releases.head(v)).body.root, (h) => objects.getTree(h), (h) => objects.getFile(h));
    };
    const old = new Set((await pieces(1)).flatMap((p) => p.chunks.map((c) => c.hash)));
    const newPieces = (await pieces(2)).filter((p) => p.chunks.some((c) => !old.has(c.hash)));
    const needed = newPieces.reduce((n, p) => n + p.size, 0);
    // Each follower asks only for the part of those pieces it lacks: from the first new chunk to the last.
    const parts = newPieces.reduce((n, p) => {
      let [at, from, to] = [0, -1, 0];
      for (const c of p.chunks) {
        if (!old.has(c.hash)) [from, to] = [from < 0 ? at : from, at + c.size];
        at += c.size;
      }
      return n + to - from;
    }, 0);
    expect(needed).toBeLessThan(TREE_BYTES / 100);
    expect(parts).toBeGreaterThanOrEqual(second.newBytes);
    expect(parts).toBeLessThan(needed);
    for (const f of cluster.followers) {
      expect(await cluster.log(f), f.name).toContain(`release 2: fetching ${newPieces.length} of `);
      expect(await cluster.log(f), f.name).toMatch(new RegExp(`release 2: fetching \\d+ of \\d+ pieces \\(${parts} bytes, parts of pieces of ${needed} bytes\\)`));
    }
    after.forEach((s, i) => {
      const b = before[i]!;
      // Every follower needs exactly those parts; on a loaded machine the end-game asks a late
      // piece of more peers (a run of the full suite: 3.02× the new bytes). No piece was bad.
      expect(s!.banned).toEqual([]);
      expect(s!.bytesDown - b.bytesDown).toBeGreaterThanOrEqual(second.newBytes);
      expect(s!.bytesDown - b.bytesDown, `${cluster.followers[i]!.name}: ${needed} bytes in whole pieces, ${parts} in parts`).toBeLessThanOrEqual(parts * 4);
      // root + d?/ + s?/ trees per changed path and the changed file objects, nothing else.
      expect(s!.objectsFetched - b.objectsFetched).toBeLessThanOrEqual(3 * 3 + 1);
    });
    expect(second.newBytes).toBeLessThan(TREE_BYTES / 20);
  }, 120_000);

  it('verify on a serving follower is run by its node: a stray file is reported and counted in status until it is removed', async () => {
    const f = cluster.followers[1]!;
    const stray = join(f.live, 'left-by-hand.txt');
    const fresh = async () => JSON.parse((await runCli(['-c', f.config, 'status', '--json'])).stdout) as NodeStatusReport;
    await writeFile(stray, 'left by hand\n');
    try {
      const r = await runCli(['-c', f.config, 'verify']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/done by the running node/);
      expect(r.stdout).toMatch(/left-by-hand\.txt/);
      expect((await fresh()).verify).toMatchObject({ added: 1, removed: 0, changed: 0 });
      expect(await cluster.log(f)).toMatch(/operator: verify[\s\S]*live release 2 differs from its release: 0 modified, 1 added/);
    } finally {
      await rm(stray, { force: true });
    }
    const clean = await runCli(['-c', f.config, 'verify', '--json']);
    expect(clean.code, clean.stderr).toBe(0);
    expect((JSON.parse(clean.stdout) as VerifyResult).counts).toEqual({ added: 0, removed: 0, modified: 0, meta: 0, type: 0 });
    expect((await fresh()).verify).toMatchObject({ added: 0, removed: 0, changed: 0 });
    // Each connected peer's line says how its bytes travel, as status --json's path does.
    const shown = (await runCli(['-c', f.config, 'status'])).stdout;
    const connected = (await fresh()).peers.filter((p) => p.connected);
    expect(connected.length).toBeGreaterThan(0);
    for (const p of connected) {
      expect(shown).toContain(`+ ${p.key.slice(0, 16)}${p.publisher ? ' publisher' : ''}  over ${p.path === 'tcp' ? 'TCP (direct)' : 'hyperswarm'}  up `);
    }
  }, 60_000);

  it('a node that joins while the publisher is down gets the whole release from its peers', async () => {
    await cluster.stop(cluster.publisher);
    const late = await cluster.addFollower('late-joiner');
    cluster.start(late);
    await cluster.waitLive([late], 2, 90_000);
    await expectSameTree(late);
    const s = (await cluster.status(late))!;
    expect(s.bytesFromPublisher).toBe(0);
    expect(s.bytesDown).toBeGreaterThan(0);
  }, 120_000);

  it('a node with the wrong cluster secret connects to nothing and receives nothing', async () => {
    // It can reach the same DHT, but the topic is derived from the secret and every connection
    // must prove the secret: the swarm tests cover a peer that knows the topic but not the secret.
    // Made and started in beforeAll, so it has been among the cluster since the first rollout.
    const intruder = intruderNode!;
    try {
      await cluster.waitFor('the intruder to run', async () => (await cluster.status(intruder))?.phase === 'idle');
      // It does not sit silent: status and its log say where to look.
      await cluster.waitFor('the intruder to report that it finds no peer', async () =>
        ((await cluster.status(intruder))?.problems ?? []).some((p) => p.id === 'no-peer-found'), 30_000);
      const s = (await cluster.status(intruder))!;
      expect(s.problems.find((p) => p.id === 'no-peer-found')!.text).toMatch(/check that cluster\.secret/);
      expect(await cluster.log(intruder)).toMatch(/WARNING: no peer found in \d+ s: check that cluster\.secret/);
      expect((await runCli(['-c', intruder.config, 'status'])).code, 'status exits 1 while the node is in error').toBe(1);
      expect(s.swarm.authenticated).toBe(0);
      expect(s.peers).toEqual([]);
      expect(s.bytesDown).toBe(0);
      expect(s.newest).toBeNull();
      for (const f of cluster.followers) {
        expect((await cluster.status(f))!.peers.map((p) => p.key)).not.toContain(s.node);
      }
    } finally {
      await cluster.stop(intruder);
    }
  }, 60_000);

  it('refuses a release signed by another key, a broken signature and an older release, with coded reasons', async () => {
    // A member that knows the secret gossips forged heads.
    const rogue = spawn(process.execPath, [join(repoRoot, 'dist', 'test', 'support', 'rogue-peer.js'), cluster.followers[0]!.config, 'forged-heads', '40'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // A node with the real publisher key that only has an older release 1 of its own.
    const small = join(dir, 'small');
    await generateTree(small, { bytes: 10_000, files: 3, seed: 11 });
    const stale = await cluster.addFollower('stale');
    cluster.followers.pop();
    const sc = JSON.parse(await readFile(stale.config, 'utf8'));
    await copyFile(join(cluster.publisher.dir, 'publisher.key'), join(stale.dir, 'publisher.key'));
    sc.publisher = { privateKeyFile: 'publisher.key' };
    await writeFile(stale.config, JSON.stringify(sc));
    await cli(['-c', stale.config, 'publish', small]);
    cluster.start(stale);
    try {
      // A refused head is not passed on, so each is seen by the followers connected to its sender
      // (hyperswarm meshes them all in time, but need not within the wait).
      let refusedBy = new Map<string, string>();
      await cluster.waitFor('the forged and the stale heads to be refused', async () => {
        refusedBy = new Map();
        for (const f of cluster.followers) for (const r of (await cluster.status(f))?.refusedHeads ?? []) refusedBy.set(r.code, f.name);
        return ['E_WRONG_CLUSTER', 'E_BAD_SIGNATURE', 'E_STALE_VERSION'].every((c) => refusedBy.has(c));
      }, 60_000);
      const witness = cluster.followers.find((f) => f.name === refusedBy.get('E_WRONG_CLUSTER'))!;
      expect(await cluster.log(witness)).toMatch(/refused a release head from \w+: E_WRONG_CLUSTER/);
      for (const f of cluster.followers) {
        const st = (await cluster.status(f))!;
        expect(st.live).toBe(2);
        expect(st.newest?.version).toBe(2);
      }
    } finally {
      rogue.kill();
      await cluster.stop(stale);
    }
  }, 120_000);

  it('no node opened a socket to an address outside 127.0.0.0/8', async () => {
    await expectClusterOnLoopback(cluster);
  });
});
