/**
 * Generic network guard for child processes of tests: `node --import <dist>/test/support/net-guard.js`.
 * Importing it patches the process, so tests import net-guard-report.ts instead.
 * Records every outgoing destination of TCP (net.Socket#connect), UDP (dgram) and hyperdht's
 * native UDP (udx-native sockets and streams, which bypass node:dgram), and every address a
 * socket binds to (TCP listeners, TCP source addresses, dgram and udx sockets): a bind to the
 * wildcard address (0.0.0.0, ::, or no address given) counts as outside loopback.
 *
 * - NET_GUARD_REPORT=<file>: the file is (re)written with every distinct destination as
 *   {"loopback": [...], "nonLoopback": [...]}, synchronously, each time a new one shows up.
 * - without it, the first non-loopback destination aborts the process (exit code 86).
 *
 * In both modes non-loopback UDP datagrams are dropped and non-loopback TCP connects are
 * destroyed before they leave; a udx stream pointed elsewhere is only recorded (its packets go
 * out natively). "Loopback" is 127.0.0.0/8, ::1 and "localhost".
 * - NET_GUARD_REFUSE=<host:port,...>: TCP connects to these fail with ECONNREFUSED, as if a
 *   firewall stood between this process and them (tests of the direct path's fallback).
 */
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { isLoopback, NET_GUARD_EXIT_CODE, NET_GUARD_REFUSE_ENV, NET_GUARD_REPORT_ENV, type Destination, type NetGuardReport } from './net-guard-report.js';

const reportPath = process.env[NET_GUARD_REPORT_ENV];
const refused = new Set((process.env[NET_GUARD_REFUSE_ENV] ?? '').split(',').filter(Boolean));
const seen = new Map<string, Destination>();

/** Returns true if the destination must be blocked. */
function record(proto: Destination['proto'], host: string | undefined, port: unknown): boolean {
  // An unspecified bind address is the wildcard; an unspecified destination is localhost.
  const dest: Destination = { proto, host: host || (proto.endsWith('-bind') ? '0.0.0.0' : '127.0.0.1'), port: Number(port) || 0 };
  const loopback = isLoopback(dest.host);
  const key = `${proto} ${dest.host} ${dest.port}`;
  if (!seen.has(key)) {
    seen.set(key, dest);
    if (reportPath) {
      const all = [...seen.values()];
      const report: NetGuardReport = {
        loopback: all.filter((d) => isLoopback(d.host)),
        nonLoopback: all.filter((d) => !isLoopback(d.host)),
      };
      writeFileSync(reportPath, JSON.stringify(report));
    } else if (!loopback) {
      process.stderr.write(`net-guard: non-loopback ${proto} destination ${dest.host}:${dest.port}\n`);
      process.exit(NET_GUARD_EXIT_CODE);
    }
  }
  return !loopback;
}

type AnyFn = (...args: any[]) => any;

// net.connect() hands socket.connect a normalized [options, callback] array; direct callers pass
// (options), (port, host) or (path).
const tcpConnect: AnyFn = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: any[]) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  let host: string | undefined;
  let port: unknown;
  let ipc = false;
  if (first && typeof first === 'object') {
    ipc = typeof first.path === 'string';
    host = first.host;
    port = first.port;
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    port = first;
    host = typeof args[1] === 'string' ? args[1] : undefined;
  } else {
    ipc = true;
  }
  if (!ipc && first && typeof first === 'object' && first.localAddress !== undefined) record('tcp-bind', first.localAddress, first.localPort);
  if (!ipc && record('tcp', host, port)) {
    process.nextTick(() => this.destroy(new Error(`net-guard: blocked TCP connect to ${host}:${port}`)));
    return this;
  }
  if (!ipc && refused.has(`${host ?? '127.0.0.1'}:${port}`)) {
    process.nextTick(() => this.destroy(Object.assign(new Error(`connect ECONNREFUSED ${host}:${port} (net-guard)`), { code: 'ECONNREFUSED' })));
    return this;
  }
  return tcpConnect.apply(this, args);
} as typeof net.Socket.prototype.connect;

// listen(options, [cb]) | listen(port, [host], [backlog], [cb]) | listen(path | handle): only TCP ones are recorded.
const tcpListen: AnyFn = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: any[]) {
  const first = args[0];
  if (first && typeof first === 'object' && typeof first.path !== 'string' && !('fd' in first) && !('_handle' in first)) {
    record('tcp-bind', first.host, first.port);
  } else if (typeof first === 'number' || first === undefined || typeof args[0] === 'function') {
    record('tcp-bind', typeof args[1] === 'string' ? args[1] : undefined, typeof first === 'number' ? first : 0);
  }
  return tcpListen.apply(this, args);
} as typeof net.Server.prototype.listen;

// bind([port], [address], [cb]) | bind(options, [cb])
const udpBind: AnyFn = dgram.Socket.prototype.bind;
dgram.Socket.prototype.bind = function (this: dgram.Socket, ...args: any[]) {
  const first = args[0];
  if (first && typeof first === 'object') record('udp-bind', first.address, first.port);
  else record('udp-bind', typeof args[1] === 'string' ? args[1] : undefined, typeof first === 'number' ? first : 0);
  return udpBind.apply(this, args);
} as typeof dgram.Socket.prototype.bind;

// send(msg, [offset, length,] port, [address], [callback]); a connected socket omits port/address.
const udpSend: AnyFn = dgram.Socket.prototype.send;
const udpConnectAllowed = new WeakMap<dgram.Socket, boolean>();
dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: any[]) {
  const withOffset = typeof args[2] === 'number';
  const port = withOffset ? args[3] : args[1];
  const address = withOffset ? args[4] : args[2];
  if (typeof port === 'number' && record('udp', typeof address === 'string' ? address : undefined, port)) {
    const cb = args.find((a) => typeof a === 'function');
    if (cb) process.nextTick(cb, new Error('net-guard: blocked UDP send'));
    return;
  }
  if (typeof port !== 'number' && udpConnectAllowed.get(this) === false) return;
  return udpSend.apply(this, args);
} as typeof dgram.Socket.prototype.send;

const udpConnect: AnyFn = dgram.Socket.prototype.connect;
dgram.Socket.prototype.connect = function (this: dgram.Socket, port: number, ...rest: any[]) {
  const address = typeof rest[0] === 'string' ? rest[0] : undefined;
  udpConnectAllowed.set(this, !record('udp', address, port));
  return udpConnect.call(this, port, ...rest);
} as typeof dgram.Socket.prototype.connect;

// hyperdht sends through udx-native, whose native sockets never touch node:dgram. Patching the
// one module instance in node_modules is enough: require() caches it for hyperdht too.
const require = createRequire(import.meta.url);
const UDXSocket = require('udx-native/lib/socket.js') as { prototype: Record<string, AnyFn> };
const UDXStream = require('udx-native/lib/stream.js') as { prototype: Record<string, AnyFn> };

for (const name of ['send', 'trySend'] as const) {
  const original = UDXSocket.prototype[name]!;
  UDXSocket.prototype[name] = function (this: unknown, buffer: unknown, port: number, host?: string, ...rest: unknown[]) {
    if (record('udx', host, port)) return name === 'send' ? Promise.resolve(false) : undefined;
    return original.call(this, buffer, port, host, ...rest);
  };
}

const udxBind = UDXSocket.prototype.bind!;
UDXSocket.prototype.bind = function (this: unknown, port?: number, host?: string, ...rest: unknown[]) {
  record('udx-bind', host, port);
  return udxBind.call(this, port, host, ...rest);
};

// Streams are connected once and then send natively; record where they point.
for (const name of ['connect', 'changeRemote'] as const) {
  const original = UDXStream.prototype[name]!;
  UDXStream.prototype[name] = function (this: unknown, socket: unknown, remoteId: number, port: number, host?: string, ...rest: unknown[]) {
    record('udx-stream', host, port);
    return original.call(this, socket, remoteId, port, host, ...rest);
  };
}
