/**
 * `chunkswarm publish` while the node's `serve` runs: the node publishes in its own process (warm
 * code, its chunk index told first) and streams progress to the command; errors come back typed;
 * `--local` still publishes in the command; a follower's node refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, chown, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CLI } from '../support/cli.js';
import { settle } from '../support/tree.js';
import { cs, editConfig, ok, publishedCluster, type Cluster } from './deploy-fixture.js';
import { freeTcpPort, freeUdpPort } from '../../bench/lib/ports.js';
import { callControl, controlSocketPath, type PublishProgress, type PublishSummary } from '../../src/index.js';
import { ControlServer } from '../../src/admin/index.js';

let dir: string;
let src: string;
let c: Cluster;
const procs: ChildProcess[] = [];
const logs = new Map<string, string>();

/** Starts `serve` for a config and resolves once it has joined the cluster; its stderr is kept in `logs`. */
async function serve(config: string): Promise<void> {
  const proc = spawn(process.execPath, [CLI, '-c', config, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(proc);
  logs.set(config, '');
  proc.stderr!.on('data', (d: Buffer) => logs.set(config, logs.get(config)! + d.toString()));
  await until(() => /joined the cluster/.test(logs.get(config)!), `${config} to join`);
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  ({ dir, src, c } = await publishedCluster('cs-publish-node-'));
  const port = await freeUdpPort();
  const bootstrap = [`127.0.0.1:${port}`];
  await editConfig(c.pub, (cfg) => {
    cfg.network = { ...cfg.network, bootstrap, bootstrapPort: port };
  });
  for (const config of [c.pub, c.fol]) {
    const tcp = await freeTcpPort();
    await editConfig(config, (cfg) => {
      cfg.network = { ...cfg.network, bootstrap, port: tcp };
    });
  }
  await serve(c.pub);
}, 60_000);

afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGTERM');
    if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
  }
  await rm(dir, { recursive: true, force: true });
});

describe('publish through the running node', () => {
  it('the node publishes, says so, and announces the release', async () => {
    await appendFile(join(src, 'etc', 'app.conf'), 'one more line\n');
    await settle();
    const r = ok(await cs(c.pub, 'publish', src));
    expect(r.stderr).toMatch(/published by the running node/);
    expect(r.stdout).toMatch(/^version:\s+2$/m);
    expect(r.stdout).toMatch(/^hashed:\s+1 files/m);
    await until(() => /release 2 published: \d+ files, 1 hashed, 1 new chunks \([\d.]+ MB\), in [\d.]+ s/.test(logs.get(c.pub)!), 'the node to log release 2');
    // Its scan begun by the command's early query, as the command started.
    expect(logs.get(c.pub)).toContain(`operator: publish ${src} (its scan begun as the command started)`);
    // Its own release, not one it came upon.
    expect(logs.get(c.pub)).not.toContain('release 2 found in the local store');
    expect(await readFile(join(c.pubData, 'releases', '2', 'etc', 'app.conf'), 'utf8')).toMatch(/one more line\n$/);
  });

  it('streams progress to the caller, phase by phase, before the summary', async () => {
    await appendFile(join(src, 'etc', 'app.conf'), 'and another\n');
    await settle();
    const seen: string[] = [];
    const s = (await callControl(c.pubData, { op: 'publish', source: src }, {
      onNotice: (n) => seen.push((n as PublishProgress).phase),
    })) as PublishSummary;
    expect(s.version).toBe(3);
    expect(seen[0]).toBe('scan');
    expect(seen.at(-1)).toBe('sign');
    expect(seen).toContain('materialize');
  });

  it('a command refused after its early scan was asked for publishes nothing', async () => {
    await appendFile(join(src, 'etc', 'app.conf'), 'not to be published\n');
    const invalid = join(dirname(c.pub), 'invalid.json');
    await writeFile(invalid, JSON.stringify({ ...JSON.parse(await readFile(c.pub, 'utf8')), releases: { keep: 'many' } }));
    const before = logs.get(c.pub)!.split('operator: publish').length;
    const r = await cs(invalid, 'publish', src);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/E_CONFIG: .*releases\.keep/);
    await new Promise((res) => setTimeout(res, 1000));
    expect(logs.get(c.pub)!.split('operator: publish').length).toBe(before);
    expect(await readdir(join(c.pubData, 'releases'))).not.toContain('4');
  });

  it('a publish that fails in the node fails the command with the cause, typed', async () => {
    const r = await cs(c.pub, 'publish', join(dir, 'no-such-tree'));
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/E_NOT_FOUND: .*no-such-tree/);
    expect(logs.get(c.pub)).toMatch(new RegExp(`WARNING: operator: publish ${join(dir, 'no-such-tree')} failed: reading source directory .*no-such-tree does not exist`));
  });

  it('--local publishes in the command, and the node still sees the release', async () => {
    const asked = () => logs.get(c.pub)!.split('operator: publish').length - 1;
    const before = asked();
    await appendFile(join(src, 'etc', 'app.conf'), 'local\n');
    await settle();
    const r = ok(await cs(c.pub, 'publish', src, '--local', '--json'));
    expect(r.stderr).not.toMatch(/running node/);
    expect((JSON.parse(r.stdout) as PublishSummary).version).toBe(4);
    expect(asked()).toBe(before);
    await until(() => /release 4 found in the local store/.test(logs.get(c.pub)!), 'the node to see release 4');
  });

  it("a follower's node refuses to publish", async () => {
    await serve(c.fol);
    const r = await cs(c.fol, 'publish', src);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not a publisher/);
    expect(logs.get(c.fol)).toContain('operator: publish');
  }, 60_000);
});

describe('publish and a node of another user', () => {
  it('publishes in the command when the control socket belongs to another user (the node could not read what the caller can)', async () => {
    if (process.getuid?.() !== 0) {
      console.log('skipped: changing the control socket\'s owner needs root');
      return;
    }
    const { dir: other, src: tree, c: cl } = await publishedCluster('cs-publish-other-');
    const asked: string[] = [];
    const node = await ControlServer.listen(cl.pubData, async (req) => {
      asked.push(req.op);
      throw new Error('this stand-in node publishes nothing');
    });
    try {
      // Same user: the command asks the node for a scan as it starts, then to publish (and fails with its answer).
      const same = await cs(cl.pub, 'publish', tree, '--force');
      expect(same.code).not.toBe(0);
      expect([...asked].sort()).toEqual(['prescan', 'publish']);
      await chown(controlSocketPath(cl.pubData), 65534, 65534);
      const r = ok(await cs(cl.pub, 'publish', tree, '--force'));
      expect(r.stderr).not.toMatch(/running node/);
      expect(r.stdout).toMatch(/^version:\s+2$/m);
      // Neither: not even the scan.
      expect([...asked].sort()).toEqual(['prescan', 'publish']);
    } finally {
      await node.close();
      await rm(other, { recursive: true, force: true });
    }
  }, 60_000);
});
