/**
 * Child process of bench/transfer: one end of a one-way bulk transfer on loopback, over
 * - 'swarm': our Swarm (authentication + credit flow control, the layer chunkswarm's wire runs on
 *   when peers cannot reach each other over TCP),
 * - 'hyperswarm': bare hyperswarm streams (UDX),
 * - 'tcp': bare @hyperswarm/secret-stream (the same Noise handshake and encryption) over a TCP
 *   socket, the transport of chunkswarm's direct path;
 * - 'tcp-files': the same, with the least each end of a piece transfer must do with the bytes: the
 *   sender reads them from `count` files (written before it connects) a MiB at a time and hashes
 *   each MiB (a publisher re-hashes what it serves), the receiver hashes each MiB once and writes
 *   it into `count` pre-sized files in a fresh directory (as the stager creates them), so the floor
 *   includes what this machine's page cache charges for new data.
 * For the first two the receiver announces the topic and the sender only looks it up, so there is
 * exactly one connection; for the tcp modes the receiver listens and the port argument is its port.
 *   node dist/bench/lib/stream-pump.js <swarm|hyperswarm|tcp|tcp-files> <send|recv> <bootstrap or tcp port> <bytes> <secret hex> [dir count]
 * Prints JSON lines on stdout: {"ready":true} once findable (with "port" for tcp), then (receiver)
 * the result; runs until killed.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import NoiseSecretStream from '@hyperswarm/secret-stream';
import HyperDHT from 'hyperdht';
import Hyperswarm from 'hyperswarm';
import { createDht, Swarm, deriveTopic } from '../../src/swarm/index.js';

export interface PumpResult {
  bytes: number;
  /** First byte to last byte at the receiver. */
  seconds: number;
  /** Receiver start to first byte (DHT lookup, connect, handshakes). */
  setupSeconds: number;
  /** Date.now() at the first and the last byte, to match CPU samples against. */
  firstAt: number;
  lastAt: number;
}

const [mode, role, portArg, bytesArg, secretHex, filesDir, filesArg] = process.argv.slice(2);
const port = Number(portArg);
const total = Number(bytesArg);
const secret = Buffer.from(secretHex ?? '', 'hex');
const started = performance.now();
const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

const PIECE = 1 << 20;
const fileSize = (count: number) => Math.ceil(total / count);

/** The next buffer to send, starting at byte `at`. */
type Source = (at: number) => Buffer;

function memorySource(): Source {
  const buf = Buffer.allocUnsafe(PIECE);
  randomFillSync(buf);
  // A fresh copy per write: a stream may keep the buffer queued while we write the next one.
  return (at) => (total - at >= PIECE ? Buffer.from(buf) : buf.subarray(0, total - at));
}

/**
 * The files of a file mode, `count` of equal size, created up front; bytes flow through them in
 * order, so one is open at a time (20,000 open at once ran out of descriptors).
 */
function fileSet(dir: string, count: number, make: (fd: number, bytes: number) => void): { size: number; fdAt: (at: number) => number; close: () => void } {
  const size = fileSize(count);
  const path = (i: number) => join(dir, `f${i}`);
  for (let i = 0; i < count; i++) {
    const fd = openSync(path(i), 'wx', 0o600);
    make(fd, Math.min(size, total - i * size));
    closeSync(fd);
  }
  let open: { i: number; fd: number } | null = null;
  const close = () => {
    if (open) closeSync(open.fd);
    open = null;
  };
  const fdAt = (at: number) => {
    const i = Math.floor(at / size);
    if (open?.i !== i) {
      close();
      open = { i, fd: openSync(path(i), 'r+') };
    }
    return open.fd;
  };
  return { size, fdAt, close };
}

/** Writes `count` files of random bytes, then reads them back a MiB (or a file's end) at a time, hashing each read. */
function fileSource(dir: string, count: number): Source {
  const random = Buffer.allocUnsafe(PIECE);
  randomFillSync(random);
  const files = fileSet(dir, count, (fd, bytes) => {
    for (let at = 0; at < bytes; ) at += writeSync(fd, random, 0, Math.min(PIECE, bytes - at), at);
  });
  const { size } = files;
  return (at) => {
    const off = at % size;
    const n = Math.min(PIECE - (at % PIECE), size - off, total - at);
    const buf = Buffer.allocUnsafe(n);
    for (let done = 0; done < n; ) done += readSync(files.fdAt(at), buf, done, n - done, off + done);
    createHash('sha256').update(buf).digest();
    if (at + n >= total) files.close();
    return buf;
  };
}

async function send(stream: Duplex, next: Source): Promise<void> {
  for (let sent = 0; sent < total; ) {
    const buf = next(sent);
    const ok = stream.write(buf);
    sent += buf.length;
    if (!ok) await new Promise((r) => stream.once('drain', r));
  }
}

/** Hashes every MiB once and writes each byte at its place in `count` files of equal size. */
function fileSink(dir: string, count: number): (chunk: Buffer, at: number) => void {
  const files = fileSet(dir, count, (fd, bytes) => ftruncateSync(fd, bytes));
  const { size } = files;
  let hash = createHash('sha256');
  return (chunk, at) => {
    for (let off = 0; off < chunk.length; ) {
      const pos = at + off;
      const n = Math.min(chunk.length - off, size - (pos % size), PIECE - (pos % PIECE));
      const part = chunk.subarray(off, off + n);
      hash.update(part);
      if ((pos + n) % PIECE === 0 || pos + n === total) {
        hash.digest();
        hash = createHash('sha256');
      }
      writeSync(files.fdAt(pos), part, 0, n, pos % size);
      off += n;
    }
    if (at + chunk.length >= total) files.close();
  };
}

function receive(stream: Duplex, sink: ((chunk: Buffer, at: number) => void) | null): void {
  let got = 0;
  let first = 0;
  let firstAt = 0;
  stream.on('data', (chunk: Buffer) => {
    if (got === 0) {
      first = performance.now();
      firstAt = Date.now();
    }
    sink?.(chunk, got);
    got += chunk.byteLength;
    if (got < total) return;
    const end = performance.now();
    const r: PumpResult = { bytes: got, seconds: (end - first) / 1000, setupSeconds: (first - started) / 1000, firstAt, lastAt: Date.now() };
    // The parent stops both ends once it has sampled their CPU time past this moment.
    say(r);
    stream.pause();
  });
}

async function main(): Promise<void> {
  const recv = role === 'recv';
  const bootstrap = [{ host: '127.0.0.1', port }];
  const files = mode === 'tcp-files' ? { dir: join(filesDir!, recv ? 'received' : 'sent'), count: Number(filesArg) } : null;
  if (files) mkdirSync(files.dir);
  // Set up before anything connects: the figures start at the first byte.
  const sink = recv && files ? fileSink(files.dir, files.count) : null;
  const source = recv ? null : files ? fileSource(files.dir, files.count) : memorySource();
  let taken = false;
  // Only the first connection carries the transfer; there should be no other.
  const onStream = (stream: Duplex) => {
    if (taken) return;
    taken = true;
    if (source) void send(stream, source);
    else receive(stream, sink);
  };
  if (mode === 'tcp' || mode === 'tcp-files') {
    const keyPair = HyperDHT.keyPair();
    if (recv) {
      const server = net.createServer((socket) => onStream(new NoiseSecretStream(false, socket.setNoDelay(true), { keyPair }) as unknown as Duplex));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      say({ ready: true, port: (server.address() as net.AddressInfo).port });
      return;
    }
    const socket = net.connect({ host: '127.0.0.1', port }).setNoDelay(true);
    onStream(new NoiseSecretStream(true, socket, { keyPair }) as unknown as Duplex);
  } else if (mode === 'swarm') {
    const swarm = new Swarm({ clusterSecret: secret, bootstrap, server: recv, client: !recv, authTimeoutMs: 10_000 });
    swarm.on('peer', (p) => onStream(p.stream));
    await swarm.ready();
  } else {
    // The project's DHT (createDht, as src/swarm/swarm.ts makes it), without our authentication and framing.
    const dht = createDht({ bootstrap, host: '127.0.0.1' });
    const hs = new Hyperswarm({ dht });
    hs.on('connection', (conn) => onStream(conn as unknown as Duplex));
    const d = hs.join(deriveTopic(secret), { server: recv, client: !recv });
    if (recv) await d.flushed();
  }
  say({ ready: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
