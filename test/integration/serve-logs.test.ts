/**
 * serve's log: a level field on every line, node name, release and error code as fields in JSON
 * (--log-format json), and --quiet keeping exactly the warnings and errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from '../support/cli.js';
import { cs, editConfig, ok, publishedCluster, type Cluster } from './deploy-fixture.js';
import { freeTcpPort, freeUdpPort } from '../../bench/lib/ports.js';

let dir: string;
let c: Cluster;

beforeAll(async () => {
  ({ dir, c } = await publishedCluster('cs-serve-logs-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** tsc's output of the logger (the CLI bundle holds it too, but not as a module of its own). */
const LOGGER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'src', 'cli', 'logger.js');

/** Runs a script against the compiled logger in a child process and returns its stderr lines. */
function loggerLines(opts: string): string[] {
  const script = `
    const { createLogger } = await import(${JSON.stringify(LOGGER)});
    const log = createLogger(${opts});
    log.info('release 3 is live', { release: 3 });
    log.warn('peer abc dropped', { peer: 'abc' });
    log.error('no space left on device while staging', { code: 'E_NO_SPACE', release: 4 });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr.split('\n').filter(Boolean);
}

/**
 * Runs `serve --log-format json` on `config` while `during` runs (`until` waits, at most 30 s in
 * all, for a log line matching), then stops it; returns its log lines, parsed.
 */
async function jsonServe(
  config: string,
  during: (until: (line: RegExp) => Promise<void>, proc: ChildProcess) => Promise<void>,
): Promise<Array<Record<string, unknown>>> {
  const proc = spawn(process.execPath, [CLI, '-c', config, 'serve', '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const end = Date.now() + 30_000;
  try {
    await during(async (line) => {
      while (Date.now() < end && !line.test(err)) await new Promise((r) => setTimeout(r, 100));
    }, proc);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  return err.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('serve logs', () => {
  it('json: one object per line with level, time, node, message and fields', () => {
    const lines = loggerLines(`{ format: 'json', quiet: false, node: 'web-7' }`).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.node, l.msg])).toEqual([
      ['info', 'web-7', 'release 3 is live'],
      ['warn', 'web-7', 'peer abc dropped'],
      ['error', 'web-7', 'no space left on device while staging'],
    ]);
    expect(lines[2]).toMatchObject({ code: 'E_NO_SPACE', release: 4 });
    expect(Number.isNaN(Date.parse(lines[0]!.time as string))).toBe(false);
  });

  it('human, --quiet: warnings and errors only, the error with its code, whatever the message says', () => {
    const lines = loggerLines(`{ format: 'human', quiet: true, node: 'web-7' }`);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\S+Z WARNING: peer abc dropped$/);
    expect(lines[1]).toMatch(/^\S+Z error: E_NO_SPACE: no space left on device while staging$/);
  });

  it('a running serve logs JSON lines named after node.name, with the release as a field', async () => {
    const port = await freeUdpPort();
    // Its own TCP port too: the default one may be held by another serve on the machine.
    const tcp = await freeTcpPort();
    await editConfig(c.pub, (cfg) => {
      cfg.node = { name: 'master-1' };
      cfg.network = { ...cfg.network, bootstrap: [`127.0.0.1:${port}`], bootstrapPort: port, port: tcp };
    });
    const lines = await jsonServe(c.pub, async (until) => {
      await until(/joined the cluster/);
      ok(await cs(c.pub, 'publish', join(dir, 'src'), '--force'));
      await until(/release 2 published/);
    });
    expect(lines.every((l) => l.node === 'master-1' && typeof l.level === 'string')).toBe(true);
    expect(lines.find((l) => /^release 2 published: /.test(String(l.msg)))).toMatchObject({ level: 'info', release: 2 });
  }, 60_000);

  it('a SIGHUP to a serve without a terminal (a service) is logged and ignored: the node keeps running', async () => {
    await editConfig(c.fol, (cfg) => {
      cfg.network = { ...cfg.network, port: 0 };
    });
    let alive = false;
    const lines = await jsonServe(c.fol, async (until, proc) => {
      await until(/joined the cluster/);
      proc.kill('SIGHUP');
      await until(/SIGHUP/);
      await new Promise((r) => setTimeout(r, 500));
      alive = proc.exitCode === null && proc.signalCode === null;
      expect((await cs(c.fol, 'status', '--json')).code).toBe(0);
    });
    expect(alive).toBe(true);
    expect(lines.find((l) => /SIGHUP/.test(String(l.msg)))).toMatchObject({ level: 'warn', msg: expect.stringMatching(/SIGHUP: ignored: .*restart the service/) });
    // It stopped on the SIGTERM that ended the test, not on the SIGHUP.
    expect(lines.filter((l) => /: stopping$/.test(String(l.msg))).map((l) => l.msg)).toEqual(['SIGTERM: stopping']);
  }, 60_000);

  it("a frontend whose bootstrap port and direct port are taken warns for each with the code, and runs without them", async () => {
    const held = createSocket('udp4');
    await new Promise<void>((resolve) => held.bind(0, '127.0.0.1', resolve));
    const port = held.address().port;
    const heldTcp = createServer();
    await new Promise<void>((resolve) => heldTcp.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const tcp = (heldTcp.address() as AddressInfo).port;
    await editConfig(c.fol, (cfg) => {
      cfg.network = { ...cfg.network, bootstrapPort: port, port: tcp };
    });
    const lines = await jsonServe(c.fol, (until) => until(/joined the cluster/)).finally(() => {
      held.close();
      heldTcp.close();
    });
    expect(lines.find((l) => /DHT bootstrap node/.test(String(l.msg)))).toMatchObject({ level: 'warn', code: 'E_IO', msg: expect.stringMatching(new RegExp(`127\\.0\\.0\\.1:${port}.*runs none`)) });
    expect(lines.find((l) => /network\.port/.test(String(l.msg)))).toMatchObject({
      level: 'warn', code: 'E_IO', msg: expect.stringMatching(new RegExp(`TCP 127\\.0\\.0\\.1:${tcp} .*another process holds this port \\(EADDRINUSE\\).*no direct connections`)),
    });
    expect(lines.some((l) => /joined the cluster/.test(String(l.msg)))).toBe(true);
  }, 60_000);
});
