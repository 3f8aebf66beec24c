/**
 * What a sysadmin meets at the shell: a pipe closed early, --version, a livePath whose directory
 * is missing, a failing hook, a data directory the user may not write, a mistyped port. Each ends
 * in one coded line, never a stack trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, runCli } from '../support/cli.js';
import { cs, editConfig, ok, publishedCluster, type Cluster } from './deploy-fixture.js';

let dir: string;
let c: Cluster;

beforeAll(async () => {
  ({ dir, c } = await publishedCluster('cs-cli-usability-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const STACK = /\n\s+at .*:\d+:\d+/;

describe('the command line, used as a sysadmin would', () => {
  it('a pipe closed early (| head) ends the output quietly', () => {
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${CLI}" -c "${c.pub}" show 1 --tree | head -1`], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/EPIPE/);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('init and join take the direct path\'s port (--port); a mistyped port fails before anything is written or spent', async () => {
    const pub = join(dir, 'init-port');
    ok(await runCli(['init', '--publisher', '--dir', pub, '--port', '49999']));
    const cfg = JSON.parse(readFileSync(join(pub, 'swarm.config.json'), 'utf8')) as { network: { port?: number } };
    expect(cfg.network.port).toBe(49999);
    // Without --port, nodes made on one machine's loopback (a trial of the README's commands) each
    // get a free port of their own: all took 49738 before, and only the first could listen.
    const portOf = (d: string) => (JSON.parse(readFileSync(join(d, 'swarm.config.json'), 'utf8')) as { network: { port?: number } }).network.port;
    const [p2, j2] = [join(dir, 'init-port-2'), join(dir, 'init-port-joined')];
    ok(await runCli(['init', '--publisher', '--dir', p2]));
    ok(await runCli(['init', '--join', join(p2, 'swarm.config.json'), '--dir', j2]));
    const ports = [portOf(p2), portOf(j2)];
    for (const port of ports) expect(port).toSatisfy((v: unknown) => Number.isInteger(v) && (v as number) > 0 && v !== 49738);
    expect(ports[0]).not.toBe(ports[1]);

    const bad = join(dir, 'init-bad-port');
    const r = await runCli(['init', '--publisher', '--dir', bad, '--port', '70000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_USAGE: not a port: "70000" \(a number from 0 to 65535; 0: any free port\)/);
    expect(existsSync(bad)).toBe(false);

    // Checked while the command line is read: before the token is looked at, let alone redeemed.
    const joined = join(dir, 'join-bad-port');
    const j = await runCli(['join', 'csjoin1.not-a-token', '--dir', joined, '--live', join(dir, 'live-j'), '--bootstrap-port', 'abc']);
    expect(j.code).toBe(2);
    expect(j.stderr).toMatch(/E_USAGE: not a port: "abc" \(a number from 1 to 65535\)/);
    expect(j.stderr).not.toMatch(STACK);
    expect(existsSync(joined)).toBe(false);
  });

  it('init --join from a publisher with no signed membership says which record to copy, and admit says it again', async () => {
    const pub = join(dir, 'm-pub');
    const fol = join(dir, 'm-fol');
    ok(await runCli(['init', '--publisher', '--dir', pub]));
    const init = ok(await runCli(['init', '--join', join(pub, 'swarm.config.json'), '--dir', fol]));
    const record = join(fol, 'data', 'membership.json');
    expect(init.stdout).toContain(`lets no peer in until it holds one`);
    expect(init.stdout).toContain(`copy the master's data/membership.json to ${record} before "serve"`);
    const key = /^node key (\w+)$/m.exec(init.stdout)![1]!;
    const admit = ok(await runCli(['-c', join(pub, 'swarm.config.json'), 'admit', key]));
    expect(admit.stdout).toContain(`copy ${join(pub, 'data', 'membership.json')} into its data directory`);
    // Done as told, the node knows the members, itself and the publisher's node included.
    execFileSync('cp', [join(pub, 'data', 'membership.json'), record]);
    const members = JSON.parse(ok(await runCli(['-c', join(fol, 'swarm.config.json'), 'members', '--json'])).stdout) as { members: Array<{ key: string }>; enforced: boolean };
    expect(members.enforced).toBe(true);
    expect(members.members.map((m) => m.key)).toContain(key);
    expect(members.members).toHaveLength(2);
    // Admitted again, it is not signed again: a new version would change nothing but the number.
    const version = (JSON.parse(ok(await runCli(['-c', join(pub, 'swarm.config.json'), 'members', '--json'])).stdout) as { version: number }).version;
    const again = ok(await runCli(['-c', join(pub, 'swarm.config.json'), 'admit', key]));
    expect(again.stdout).toBe(`node ${key.slice(0, 16)} is already in membership version ${version}: nothing signed\n`);
    const renamed = JSON.parse(ok(await runCli(['-c', join(pub, 'swarm.config.json'), 'admit', key, '--name', 'web-9', '--json'])).stdout) as { version: number; unchanged: boolean; members: Array<{ key: string; name: string }> };
    expect([renamed.version, renamed.unchanged]).toEqual([version + 1, false]);
    expect(renamed.members.find((m) => m.key === key)!.name).toBe('web-9');
  });

  it('--version prints the package version', async () => {
    const r = ok(await cs(c.pub, '--version'));
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(CLI, '..', '..', '..', '..', 'package.json'), 'utf8')).version);
  });

  it('a livePath whose directory is missing is named, and no hook runs', async () => {
    const marker = join(dir, 'hook-ran');
    await editConfig(c.fol, (cfg) => {
      cfg.livePath = join(dir, 'missing', 'live');
      cfg.hooks = { preActivate: `touch "${marker}"`, postActivate: null };
    });
    const r = await cs(c.fol, 'activate', '1', '--source-data', c.pubData);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(new RegExp(`E_NOT_FOUND: the directory ${join(dir, 'missing')} that should hold livePath`));
    expect(existsSync(marker)).toBe(false);
  });

  it("a failing preActivate hook's output is shown once, in the error", async () => {
    await editConfig(c.fol, (cfg) => {
      cfg.livePath = join(dir, 'fol', 'live');
      cfg.hooks = { preActivate: 'echo refused-by-the-hook; exit 3', postActivate: null };
    });
    const r = await cs(c.fol, 'activate', '1', '--source-data', c.pubData);
    expect(r.code).toBe(10);
    expect((r.stdout + r.stderr).match(/refused-by-the-hook/g)).toHaveLength(1);
    await editConfig(c.fol, (cfg) => (cfg.hooks = { preActivate: null, postActivate: null }));
  });

  it('a data directory this user may not write is a coded error that says so, not a stack trace', async (ctx) => {
    const who = spawnSync('runuser', ['--help']);
    if (who.error) {
      console.warn('runuser not found: the unprivileged case is skipped');
      ctx.skip();
    }
    const ro = join(dir, 'ro');
    await mkdir(ro);
    await chmod(ro, 0o555);
    await chmod(dir, 0o755);
    await editConfig(c.fol, (cfg) => (cfg.dataDir = join(ro, 'data')));
    // Readable by the other user: only the data directory is out of reach.
    execFileSync('chmod', ['-R', 'a+rX', join(dir, 'fol'), join(dir, 'pub')]);
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, '-c', c.fol, 'activate', '1', '--source-data', c.pubData], { encoding: 'utf8' });
    expect(r.status).not.toBe(70);
    expect(r.stderr).toMatch(/^chunkswarm: E_IO: .*permission denied/);
    expect(r.stderr).not.toMatch(STACK);
  });
});
