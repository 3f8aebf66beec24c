import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NET_GUARD_EXIT_CODE, NET_GUARD_REPORT_ENV, type NetGuardReport } from '../support/net-guard-report.js';
import { compiled, repoRoot } from '../support/swarm-fixture.js';

// Tries every path out of the process that swarm tests rely on the guard to see: udx-native
// (hyperdht's UDP), node:dgram and node:net, to TEST-NET-1 (192.0.2.0/24, never routed) and to
// loopback, and binds: on loopback and on the wildcard address.
const PROBE = `
import dgram from 'node:dgram';
import net from 'node:net';
import { createRequire } from 'node:module';
const UDX = createRequire(process.cwd() + '/')('udx-native');
const socket = new UDX().createSocket();
socket.bind(0, '127.0.0.1');
socket.trySend(Buffer.from('x'), 9, '192.0.2.1');
await socket.send(Buffer.from('x'), 9, '192.0.2.2');
socket.trySend(Buffer.from('x'), 9, '127.0.0.1');
await socket.close();
const udp = dgram.createSocket('udp4');
await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
await new Promise((resolve) => udp.send(Buffer.from('x'), 9, '192.0.2.3', resolve));
await new Promise((resolve) => udp.send(Buffer.from('x'), 9, '127.0.0.1', resolve));
udp.close();
const tcp = net.connect({ host: '192.0.2.4', port: 9 });
const tcpError = await new Promise((resolve) => tcp.on('error', (err) => resolve(err.message)));
for (const host of ['127.0.0.1', undefined]) {
  const server = net.createServer();
  await new Promise((resolve) => server.listen({ host, port: 0 }, resolve));
  await new Promise((resolve) => server.close(resolve));
}
console.log(JSON.stringify({ tcpError }));
`;

describe('net guard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chunkswarm-net-guard-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const probe = (reportPath: string | null) => {
    const env = { ...process.env };
    delete env[NET_GUARD_REPORT_ENV];
    if (reportPath) env[NET_GUARD_REPORT_ENV] = reportPath;
    return spawnSync(process.execPath, ['--import', compiled('test/support/net-guard.js'), '--input-type=module', '-e', PROBE], {
      cwd: repoRoot,
      env,
      encoding: 'utf8',
      timeout: 15_000,
    });
  };

  it('records and blocks non-loopback TCP, UDP and udx destinations', () => {
    const reportPath = join(dir, 'report.json');
    const run = probe(reportPath);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).tcpError).toMatch(/net-guard: blocked/);

    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as NetGuardReport;
    const show = (list: NetGuardReport['loopback']) => list.map((d) => `${d.proto} ${d.host}:${d.port}`).sort();
    expect(show(report.nonLoopback)).toEqual(['tcp 192.0.2.4:9', 'tcp-bind 0.0.0.0:0', 'udp 192.0.2.3:9', 'udx 192.0.2.1:9', 'udx 192.0.2.2:9']);
    expect(show(report.loopback)).toEqual(['tcp-bind 127.0.0.1:0', 'udp 127.0.0.1:9', 'udp-bind 127.0.0.1:0', 'udx 127.0.0.1:9', 'udx-bind 127.0.0.1:0']);
  });

  it('aborts the process on the first non-loopback destination when no report file is set', () => {
    const run = probe(null);
    expect(run.status).toBe(NET_GUARD_EXIT_CODE);
    expect(run.stderr).toContain('net-guard: non-loopback udx destination 192.0.2.1:9');
  });
});
