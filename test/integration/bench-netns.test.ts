import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inHost, leftovers, netnsUnavailable, NetnsLab, type NetHost } from '../../bench/lib/netns.js';
import { repoRoot } from '../../bench/lib/results.js';
import type { StepResult } from '../../bench/bandwidth/types.js';
import { treeDigest } from '../faults/harness.js';

const N = 2;
const why = await netnsUnavailable();
if (why) console.log(`bench-netns: skipped: ${why}`);

/** The veth interfaces of the root namespace (the bench must add none: its links live in its namespaces). */
function rootVeths(): string[] {
  const links = JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show']).toString()) as Array<{ ifname: string; linkinfo?: { info_kind?: string } }>;
  return links.filter((l) => l.linkinfo?.info_kind === 'veth').map((l) => l.ifname).sort();
}

let out: string;
let work: string;
let benchPid: number;
let json: { settings: { netns: boolean }; results: StepResult[]; image: { v1Bytes: number }; methods: Array<{ name: string; description?: string }> };
let vethsBefore: string[];

describe.skipIf(why !== null)('npm run bench -- --netns (one namespace per node, kernel-shaped links)', () => {
  beforeAll(async () => {
    vethsBefore = rootVeths();
    out = await mkdtemp(join(tmpdir(), 'cs-bench-netns-'));
    const args = [
      join(repoRoot, 'dist', 'bench', 'bandwidth.js'), '--netns', '--n', String(N), '--mb', '2', '--files', '20', '--rate', '4',
      '--methods', 'chunkswarm', '--scenarios', 'cold', '--out', out, '--keep',
    ];
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, args, { maxBuffer: 16 << 20 }, (err, so, se) => (err ? reject(new Error(`${err.message}\n${so}\n${se}`)) : resolve(so)));
      benchPid = child.pid!;
    });
    work = /work directory kept: (\S+)/.exec(stdout)![1]!;
    const name = (await readdir(out)).find((f) => /^bandwidth-.*\.json$/.test(f))!;
    json = JSON.parse(await readFile(join(out, name), 'utf8')) as typeof json;
  }, 120_000);

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('brings every frontend live with the release, byte for byte, through the shaped links', async () => {
    expect(json.settings.netns).toBe(true);
    expect(json.methods[0]!.description).toContain('network namespace');
    const row = json.results.find((r) => r.method === 'chunkswarm' && r.scenario === 'cold' && r.n === N)!;
    expect(row.completions).toHaveLength(N);
    expect(row.incomplete).toBe(0);
    expect(row.received).toBeGreaterThanOrEqual(N * json.image.v1Bytes * 0.99);
    // The kernel saw at least the payload the nodes counted, on the namespaces' own links.
    expect(row.links!.received).toBeGreaterThanOrEqual(row.received);
    expect(row.links!.publisherSent).toBeGreaterThanOrEqual(row.publisherSent);
    const want = await treeDigest(join(work, 'image', 'v1', 'image'));
    expect(want.size).toBeGreaterThan(0);
    for (let i = 1; i <= N; i++) {
      const live = join(work, 'runs', `chunkswarm-n${N}`, `follower-${i}`, 'live');
      expect(await treeDigest(live), `follower-${i}`).toEqual(want);
    }
  });

  it('ran each node on its own namespace address, with only the nodes of the run as bootstrap', async () => {
    const addresses = new Set<string>();
    for (const name of ['publisher', ...Array.from({ length: N }, (_, i) => `follower-${i + 1}`)]) {
      const cfg = JSON.parse(await readFile(join(work, 'runs', `chunkswarm-n${N}`, name, 'swarm.config.json'), 'utf8')) as {
        network: { host: string; bootstrap: string[] };
        limits: { uploadBytesPerSec: number; downloadBytesPerSec: number };
      };
      expect(cfg.network.host, name).toMatch(/^10\.213\.\d+\.\d+$/);
      addresses.add(cfg.network.host);
      for (const b of cfg.network.bootstrap) expect(b, name).toMatch(/^10\.213\.\d+\.\d+:\d+$/);
      // The kernel shapes the links: the token buckets are off.
      expect(cfg.limits.uploadBytesPerSec, name).toBe(0);
      expect(cfg.limits.downloadBytesPerSec, name).toBe(0);
    }
    expect(addresses.size).toBe(N + 1);
  });

  it('leaves no namespace and no veth of the run behind', () => {
    expect(leftovers(benchPid)).toEqual([]);
    expect(rootVeths().filter((v) => !vethsBefore.includes(v))).toEqual([]);
  });
});

describe.skipIf(why !== null)('NetnsLab: the namespaces of a run', () => {
  it('reach each other, reach nothing else (no default route), and are gone after close', async () => {
    const lab = await NetnsLab.create({ hosts: 2, rate: 4e6 });
    try {
      const [a, b] = lab.hosts as [NetHost, NetHost];
      const routes = execFileSync('ip', ['-n', a.ns, 'route', 'show']).toString().trim().split('\n');
      expect(routes).toHaveLength(1);
      expect(routes[0]).toMatch(/^10\.213\.\d+\.0\/24 dev eth0/);
      expect(execFileSync('ip', ['-n', a.ns, '-6', 'route', 'show', 'default']).toString().trim()).toBe('');
      const qdisc = execFileSync('tc', ['-n', a.ns, 'qdisc', 'show', 'dev', 'eth0']).toString();
      expect(qdisc).toMatch(/tbf .*rate 32Mbit/);
      // A node in namespace a reaches b's address, and an address outside the run is unreachable.
      const probe = (host: string) => {
        const [cmd, ...args] = inHost(a, [process.execPath, '-e', `require('net').connect(9, ${JSON.stringify(host)}).on('error', (e) => { console.log(e.code); process.exit(0); })`]);
        return execFileSync(cmd!, args).toString().trim();
      };
      expect(probe(b.address)).toBe('ECONNREFUSED');
      expect(probe('192.0.2.1')).toBe('ENETUNREACH');
    } finally {
      lab.close();
    }
    expect(leftovers()).toEqual([]);
  });
});
