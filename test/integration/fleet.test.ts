import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type NodeHandle } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { runCli } from '../support/cli.js';
import type { FleetView, NodeStatusReport } from '../../src/index.js';
import { ReportSigner } from '../../src/fleet/index.js';
import { repoRoot } from '../../bench/lib/results.js';
import { INSTALL_WAIT_MS, launchChromium } from '../support/chromium.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

const CONF = 'etc/app.conf';
const HOTFIX = 'listen 8080\nworkers 4 # hand fix made on follower-2\n';
let dir: string;
let src: string;
let cluster: LocalCluster;

async function fleet(n: NodeHandle): Promise<{ code: number; view: FleetView }> {
  const r = await runCli(['-c', n.config, 'fleet', '--json']);
  expect(r.stderr).toBe('');
  return { code: r.code, view: JSON.parse(r.stdout) as FleetView };
}

async function waitFleet(what: string, n: NodeHandle, pred: (v: FleetView) => boolean, timeoutMs = 60_000): Promise<FleetView> {
  let last: FleetView | null = null;
  await cluster.waitFor(`${what} (fleet seen from ${n.name})`, async () => {
    last = (await fleet(n)).view;
    return pred(last);
  }, timeoutMs);
  return last!;
}

const byName = (v: FleetView, name: string) => v.nodes.find((x) => x.name === name);

/** The source tree, each file's SHA-256 by path: comparing 2 MB of Buffers with toEqual took 8 s. */
async function sourceFiles(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const d of await readdir(join(src, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(p);
      else out.set(p, createHash('sha256').update(await readFile(join(src, p))).digest('hex'));
    }
  };
  await walk('');
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-fleet-'));
  src = join(dir, 'source');
  await generateTree(src, { bytes: 2 * 1024 * 1024, files: 40, perDir: 10, seed: 12 });
  await mkdir(join(src, 'etc'), { recursive: true });
  await writeFile(join(src, CONF), 'listen 8080\nworkers 2\n');
  cluster = await LocalCluster.create({
    dir, followers: 4, netGuard: true,
    extra: { verify: { intervalSec: 1 }, fleet: { reportIntervalSec: 1, unreachableAfterSec: 6 }, metrics: { listen: 0 } },
  });
  // The publisher admits only the five nodes (network.allowlist), so a sixth one is refused by it.
  const keys: string[] = [];
  for (const n of cluster.nodes) {
    const seed = randomBytes(32);
    await mkdir(n.dataDir, { recursive: true });
    await writeFile(join(n.dataDir, 'node.seed'), seed.toString('hex'), { mode: 0o600 });
    keys.push(new ReportSigner(seed).publicKey);
  }
  const pubConfig = JSON.parse(await readFile(cluster.publisher.config, 'utf8')) as { network: Record<string, unknown> };
  pubConfig.network.allowlist = keys;
  await writeFile(cluster.publisher.config, JSON.stringify(pubConfig, null, 2));
  await cluster.publish(src);
  for (const n of cluster.nodes) cluster.start(n);
  await cluster.waitLive(cluster.followers, 1, 90_000);
}, 150_000);

afterAll(async () => {
  await cluster?.close();
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

describe('the fleet from one place (publisher + 4 followers, real processes)', () => {
  it('fleet --json on any node lists all five with their release, and exits 0', async () => {
    const names = cluster.nodes.map((n) => n.name).sort();
    for (const n of [cluster.publisher, cluster.followers[2]!]) {
      const v = await waitFleet('all five nodes on release 1', n, (x) => x.nodes.length === 5 && x.nodes.every((y) => y.live === 1 && y.state !== 'unreachable'));
      expect(v.nodes.map((x) => x.name).sort()).toEqual(names);
      expect(byName(v, 'publisher')!.publisher).toBe(true);
      expect(v.summary).toMatchObject({ nodes: 5, newest: 1, onNewest: 5, lagging: 0, unreachable: 0, errors: 0 });
      expect((await fleet(n)).code).toBe(0);
    }
    const text = await runCli(['-c', cluster.publisher.config, 'fleet']);
    expect(text.code).toBe(0);
    // The host only: the port of a connection is a hyperswarm socket's, no use to the operator.
    expect(text.stdout).toMatch(/follower-3\s+127\.0\.0\.1\s+1\/1\s+live 1/);
    const seen = (await fleet(cluster.publisher)).view;
    expect(byName(seen, 'follower-3')!.address).toBe('127.0.0.1');
    expect(byName(seen, 'publisher')!.stateText).toBe('seeding 1');
    expect(text.stdout).toMatch(/^5 nodes, 5 on the newest release \(1\), 0 lagging$/m);
  });

  it('serves Prometheus metrics whose counters match status --json, and the fleet gauges on the publisher', async () => {
    for (const n of [cluster.publisher, cluster.followers[0]!]) {
      const status = async () => JSON.parse((await runCli(['-c', n.config, 'status', '--json'])).stdout) as NodeStatusReport;
      const before = await status();
      expect(before.http, n.name).toMatch(/^127\.0\.0\.1:\d+$/);
      const res = await fetch(`http://${before.http}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const { types, samples } = parsePromText(await res.text());
      const after = await status();
      expect(after.bytesUp, 'idle between the two status calls').toBe(before.bytesUp);
      const node = { node: n.name };
      expect(types.get('chunkswarm_received_bytes_total')).toBe('counter');
      expect(types.get('chunkswarm_rollout_duration_seconds')).toBe('histogram');
      expect(sampleValue(samples, 'chunkswarm_sent_bytes_total', node)).toBe(before.bytesUp);
      expect(sampleValue(samples, 'chunkswarm_received_bytes_total', { ...node, source: 'publisher' })).toBe(before.bytesFromPublisher);
      expect(sampleValue(samples, 'chunkswarm_received_bytes_total', { ...node, source: 'peers' })).toBe(before.bytesDown - before.bytesFromPublisher);
      expect(sampleValue(samples, 'chunkswarm_peers', node)).toBe(before.peers.filter((p) => p.connected).length);
      expect(sampleValue(samples, 'chunkswarm_banned_peers', node)).toBe(before.banned.length);
      expect(sampleValue(samples, 'chunkswarm_release_live', node)).toBe(1);
      expect(sampleValue(samples, 'chunkswarm_release_newest', node)).toBe(before.newest!.version);
      if (n === cluster.publisher) {
        expect(before.bytesUp).toBeGreaterThan(0);
        for (const f of cluster.followers) expect(sampleValue(samples, 'chunkswarm_fleet_node_release_live', { node: f.name }), f.name).toBe(1);
        expect(sampleValue(samples, 'chunkswarm_fleet_lagging_nodes')).toBe(0);
      } else {
        expect(before.bytesDown).toBeGreaterThan(0);
        expect(sampleValue(samples, 'chunkswarm_rollout_duration_seconds_count', node)).toBe(1);
        expect(sampleValue(samples, 'chunkswarm_fleet_lagging_nodes')).toBeUndefined();
      }
    }
  });

  it('a follower edited by hand shows its drift, and after the next release an unpulled record', async () => {
    const victim = cluster.followers[1]!;
    await writeFile(join(victim.live, CONF), HOTFIX);
    const seen = await waitFleet('the drift on follower-2', cluster.publisher, (v) => (byName(v, 'follower-2')?.drift.live ?? 0) > 0);
    expect(byName(seen, 'follower-2')!.drift.live).toBe(1);
    expect(seen.summary.drifted).toBe(1);
    // Pulled at once, before any release replaces the tree: the node records its drift to answer.
    const early = await runCli(['-c', cluster.publisher.config, 'drift', 'pull', 'follower-2', '--source', src]);
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout).toMatch(/^drift record \d{8}T\d{6}Z-1 of node follower-2 \(release 1\)/);
    expect(early.stdout).toContain('-workers 2\n+workers 4 # hand fix made on follower-2\n');
    await writeFile(join(src, 'README.txt'), 'release 2\n');
    await cluster.publish(src);
    await cluster.waitLive(cluster.followers, 2, 60_000);
    const v = await waitFleet('an unpulled drift record on follower-2', cluster.publisher, (x) => byName(x, 'follower-2')?.drift.unpulled.length === 1 && byName(x, 'follower-2')!.drift.live === 0);
    // The record the early pull made (pulled), and the one made when release 2 replaced the tree.
    expect(byName(v, 'follower-2')!.drift.records).toBe(2);
    const text = await runCli(['-c', cluster.publisher.config, 'fleet']);
    expect(text.stdout).toMatch(/follower-2 .*drift 0 \(1 unpulled\)/);
  });

  it('the dashboard, in a real headless Chromium, shows every node, the newest release, and the drift with its diff', async () => {
    const http = async (n: NodeHandle) => (JSON.parse((await runCli(['-c', n.config, 'status', '--json'])).stdout) as NodeStatusReport).http!;
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(`http://${await http(cluster.publisher)}/`);
      await page.waitForFunction("document.querySelectorAll('#fleet tbody tr').length === 5 && /\\(2\\)/.test(document.getElementById('summary').textContent)");
      const rows = await page.$$eval('#fleet tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(rows.map((r) => r[0]!.replace(/ \(publisher\)| \*/g, '')).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
      for (const r of rows) expect(r.slice(2, 4), r[0]).toEqual(['2', '2']);
      expect(rows.find((r) => r[0] === 'follower-2')![6]).toMatch(/1 unpulled: \d{8}T\d{6}Z-1/);
      expect(await page.textContent('#summary')).toMatch(/^5 nodes, 5 on the newest release \(2\), 0 lagging, 1 with drift/);
      await page.waitForFunction("document.querySelectorAll('#chart polyline').length === 2");
      await page.screenshot({ path: join(repoRoot, 'bench', 'results', 'dashboard-test.png'), fullPage: true });
      await page.goto(`http://${await http(cluster.followers[1]!)}/`);
      await page.waitForFunction("/\\+workers 4/.test(document.getElementById('drift').textContent)");
      expect(await page.textContent('#drift')).toContain(`M ${CONF}`);
    } finally {
      await browser.close();
    }
    const post = await fetch(`http://${await http(cluster.publisher)}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
  }, INSTALL_WAIT_MS + 60_000); // on a fresh machine it may first wait for Chromium's install

  it('bad drift pulls are coded errors and write nothing', async () => {
    const before = await sourceFiles();
    const missing = await runCli(['-c', cluster.publisher.config, 'drift', 'pull', 'follower-2', '20200101T000000Z-1', '--apply', src]);
    expect([missing.code, missing.stderr]).toEqual([7, expect.stringMatching(/^chunkswarm: E_NOT_FOUND: node follower-2: drift record 20200101T000000Z-1 on this node not found/)]);
    const none = await runCli(['-c', cluster.publisher.config, 'drift', 'pull', 'follower-3', '--apply', src]);
    expect([none.code, none.stderr]).toEqual([7, 'chunkswarm: E_NOT_FOUND: node follower-3: no drift record: no hand edit of its live tree was found or preserved\n']);
    const unknown = await runCli(['-c', cluster.publisher.config, 'drift', 'pull', 'no-such-node', '--apply', src]);
    expect([unknown.code, unknown.stderr]).toEqual([7, expect.stringMatching(/E_NOT_FOUND: no node "no-such-node" in the fleet/)]);
    const escape = await runCli(['-c', cluster.publisher.config, 'drift', 'pull', 'follower-2', '--apply', src, '--path', '../outside']);
    expect([escape.code, escape.stderr]).toEqual([5, expect.stringMatching(/E_UNSAFE_PATH/)]);
    expect(await sourceFiles()).toEqual(before);
  });

  it('drift pull brings the hand fix back to the source tree, and a publish makes every node live with it', async () => {
    const shown = await runCli(['-c', cluster.publisher.config, 'drift', 'pull', 'follower-2', '--source', src]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`M ${CONF}\n`);
    expect(shown.stdout).toContain('-workers 2\n+workers 4 # hand fix made on follower-2\n');
    const applied = await runCli(['-c', cluster.publisher.config, 'drift', 'pull', 'follower-2', '--apply', src]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/copied 1 path\(s\) into/);
    expect(await readFile(join(src, CONF), 'utf8')).toBe(HOTFIX);
    const v3 = await cluster.publish(src);
    expect(v3.version).toBe(3);
    await cluster.waitLive(cluster.followers, 3, 60_000);
    for (const f of cluster.followers) expect(await readFile(join(f.live, CONF), 'utf8'), f.name).toBe(HOTFIX);
    const v = await waitFleet('every node on 3, nothing unpulled', cluster.publisher, (x) => x.summary.onNewest === 5 && x.nodes.every((n) => n.drift.unpulled.length === 0));
    expect(v.summary.newest).toBe(3);
  });

  it('a stopped follower becomes unreachable: fleet exits 1, and drift pull from it is refused', async () => {
    const gone = cluster.followers[3]!;
    await cluster.stop(gone);
    const v = await waitFleet('follower-4 unreachable', cluster.publisher, (x) => byName(x, 'follower-4')?.state === 'unreachable', 30_000);
    expect(byName(v, 'follower-4')!.stateText).toMatch(/^unreachable since \d{4}-\d\d-\d\dT/);
    expect(v.summary.unreachable).toBe(1);
    expect(v.ok).toBe(false);
    expect((await fleet(cluster.publisher)).code).toBe(1);
    const before = await sourceFiles();
    const r = await runCli(['-c', cluster.publisher.config, 'drift', 'pull', 'follower-4', '--apply', src]);
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/^chunkswarm: E_CLOSED: node follower-4 \([0-9a-f]{12}\) is not connected to this node/)]);
    expect(await sourceFiles()).toEqual(before);
  });

  it('a node the publisher does not admit is shown as never authenticated', async () => {
    cluster.start(await cluster.addFollower('stranger'));
    const v = await waitFleet('the stranger refused', cluster.publisher, (x) => x.nodes.some((n) => n.state === 'unauthenticated'), 30_000);
    const n = v.nodes.find((x) => x.state === 'unauthenticated')!;
    expect(n.stateText).toBe('never authenticated: not in network.allowlist');
    expect(n.live).toBeNull();
    expect(v.summary.unauthenticated).toBe(1);
    expect(v.nodes.some((x) => x.name === 'stranger'), 'its reports, even pulled from followers that took them, are ignored').toBe(false);
    expect((await runCli(['-c', cluster.publisher.config, 'fleet'])).stdout).toMatch(/never authenticated: not in network\.allowlist/);
  });
});
