import { randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ManualClock, isChunkswarmError } from '../../src/core/index.js';
import {
  creditFrame,
  dataHeader,
  FrameReader,
  MAX_FRAME_PAYLOAD,
  PeerStream,
  RateLimiter,
} from '../../src/swarm/index.js';

/** Two in-memory duplexes wired to each other, with no flow control of their own (like UDX). */
function memoryPair(): [Duplex, Duplex] {
  const make = (other: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        other().push(chunk);
        cb();
      },
      final(cb) {
        other().push(null);
        cb();
      },
    });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  return [a, b];
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function collect(stream: Duplex): Promise<Buffer> {
  const parts: Buffer[] = [];
  stream.on('data', (c: Buffer) => parts.push(c));
  return new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(parts))));
}

describe('FrameReader', () => {
  it('parses frames cut at many byte boundaries', () => {
    const payload = randomBytes(3000);
    const wire = Buffer.concat([creditFrame(777), dataHeader(payload.byteLength), payload, creditFrame(5)]);
    for (let cut = 1; cut < wire.byteLength; cut += 97) {
      const reader = new FrameReader();
      const data: Buffer[] = [];
      const credits: number[] = [];
      const sink = { data: (p: Buffer) => data.push(p), credit: (n: number) => credits.push(n) };
      reader.feed(wire.subarray(0, cut), sink);
      reader.feed(wire.subarray(cut), sink);
      expect(Buffer.concat(data).equals(payload)).toBe(true);
      expect(credits).toEqual([777, 5]);
      expect(reader.midFrame).toBe(false);
    }
  });

  it('rejects unknown types, empty and oversized data frames', () => {
    const sink = { data: () => undefined, credit: () => undefined };
    for (const bad of [Buffer.from([7, 0, 0, 0, 1]), dataHeader(0), dataHeader(MAX_FRAME_PAYLOAD + 1)]) {
      let caught: unknown;
      try {
        new FrameReader().feed(bad, sink);
      } catch (err) {
        caught = err;
      }
      expect(isChunkswarmError(caught, 'E_PROTOCOL')).toBe(true);
    }
  });
});

describe('PeerStream', () => {
  it('carries bytes both ways and ends cleanly', async () => {
    const [x, y] = memoryPair();
    const a = new PeerStream(x);
    const b = new PeerStream(y);
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const atB = collect(b);
    const atA = collect(a);
    a.end(big);
    b.end('pong');
    expect((await atB).equals(big)).toBe(true);
    expect((await atA).toString()).toBe('pong');
  });

  it('delivers bytes read before the wrap first', async () => {
    const [x, y] = memoryPair();
    const early = Buffer.concat([creditFrame(1 << 20), dataHeader(5), Buffer.from('early')]);
    const b = new PeerStream(y, { prefix: early });
    const a = new PeerStream(x);
    const got = collect(b);
    a.end('late');
    expect((await got).toString()).toBe('earlylate');
  });

  it('stops the writer once the reader stops reading, and resumes when it reads again', async () => {
    const [x, y] = memoryPair();
    const window = 512 * 1024;
    const a = new PeerStream(x);
    const b = new PeerStream(y, { receiveWindow: window });
    let acknowledged = 0;
    const piece = Buffer.alloc(16 * 1024);
    for (let i = 0; i < 200; i++) a.write(piece, () => { acknowledged += piece.byteLength; });
    for (let i = 0; i < 50; i++) await tick();
    // b's consumer never read: only the window (plus b's own readable buffer) may have moved.
    expect(acknowledged).toBeGreaterThan(0);
    expect(acknowledged).toBeLessThanOrEqual(window + b.readableHighWaterMark + a.writableHighWaterMark);
    expect(acknowledged).toBeLessThan(200 * piece.byteLength);

    let received = 0;
    b.on('data', (c: Buffer) => { received += c.byteLength; });
    for (let i = 0; i < 200 && received < 200 * piece.byteLength; i++) await tick();
    expect(received).toBe(200 * piece.byteLength);
  });

  it('drops a peer that sends more than its credit', async () => {
    const [x, y] = memoryPair();
    const b = new PeerStream(y, { receiveWindow: 256 * 1024 });
    const chunk = Buffer.alloc(MAX_FRAME_PAYLOAD);
    for (let i = 0; i < 5; i++) x.write(Buffer.concat([dataHeader(chunk.byteLength), chunk]));
    const closed = new Promise((resolve) => b.on('close', resolve));
    await closed;
    expect(isChunkswarmError(b.closeReason, 'E_PROTOCOL')).toBe(true);
  });

  it('delays write callbacks by the upload rate', async () => {
    const clock = new ManualClock();
    const [x, y] = memoryPair();
    const a = new PeerStream(x, { clock, pacer: new RateLimiter({ uploadBytesPerSec: 1_000_000 }, clock).forPeer() });
    new PeerStream(y).resume();
    await tick();
    let done = 0;
    const piece = Buffer.alloc(50_000);
    for (let i = 0; i < 40; i++) a.write(piece, () => { done += piece.byteLength; });
    const settle = async () => { for (let i = 0; i < 20; i++) await tick(); };
    await settle();
    expect(done).toBe(0); // the bucket starts empty: even the first piece waits its turn
    for (let ms = 0; ms < 1000; ms += 10) {
      clock.advance(10);
      await settle();
    }
    expect(Math.abs(done - 1_000_000)).toBeLessThanOrEqual(piece.byteLength);
  });

  it('delays delivery by the download rate', async () => {
    const clock = new ManualClock();
    const [x, y] = memoryPair();
    const a = new PeerStream(x);
    const b = new PeerStream(y, { clock, pacer: new RateLimiter({ downloadBytesPerSec: 1_000_000 }, clock).forPeer() });
    let received = 0;
    b.on('data', (c: Buffer) => { received += c.byteLength; });
    a.write(Buffer.alloc(2_000_000));
    const settle = async () => { for (let i = 0; i < 20; i++) await tick(); };
    await settle();
    expect(received).toBe(0);
    for (let ms = 0; ms < 1000; ms += 10) {
      clock.advance(10);
      await settle();
    }
    expect(Math.abs(received - 1_000_000)).toBeLessThanOrEqual(MAX_FRAME_PAYLOAD);
  });

  it('sends small writes (requests, haves, objects) at once, counted: they do not queue behind the pieces the node promised its other peers', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ uploadBytesPerSec: 1_000_000 }, clock);
    const [x1, y1] = memoryPair();
    const [x2, y2] = memoryPair();
    const a1 = new PeerStream(x1, { clock, pacer: limiter.forPeer() });
    const a2 = new PeerStream(x2, { clock, pacer: limiter.forPeer() });
    new PeerStream(y1).resume();
    const b2 = new PeerStream(y2);
    const got: Buffer[] = [];
    b2.on('data', (c: Buffer) => got.push(c));
    const settle = async () => { for (let i = 0; i < 20; i++) await tick(); };
    await tick();
    const piece = Buffer.alloc(50_000);
    a1.write(piece); // the node's bucket owes 50 ms to this piece
    a2.write(Buffer.from('request 7'));
    await settle();
    expect(Buffer.concat(got).toString()).toBe('request 7');
    // The small write was counted: a piece after it waits for both (50,000 + 9 + 50,000 bytes at 1 MB/s).
    let pieceSent = false;
    a2.write(piece, () => { pieceSent = true; });
    clock.advance(95);
    await settle();
    expect(pieceSent).toBe(false);
    clock.advance(10);
    await settle();
    expect(pieceSent).toBe(true);
  });

  it('delivers a small read at once while the download bucket owes time to another stream, never ahead of bytes its own stream holds', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ downloadBytesPerSec: 1_000_000 }, clock);
    const [, y1] = memoryPair();
    const [, y2] = memoryPair();
    const b1 = new PeerStream(y1, { framed: false, clock, pacer: limiter.forPeer() });
    const b2 = new PeerStream(y2, { framed: false, clock, pacer: limiter.forPeer() });
    const at1: string[] = [];
    const at2: string[] = [];
    b1.on('data', (c: Buffer) => at1.push(c.byteLength > 100 ? 'piece' : c.toString()));
    b2.on('data', (c: Buffer) => at2.push(c.toString()));
    y1.push(Buffer.alloc(100_000));
    y1.push(Buffer.from('have 3'));
    y2.push(Buffer.from('have 4'));
    await tick();
    expect(at2).toEqual(['have 4']);
    expect(at1).toEqual([]);
    clock.advance(101);
    for (let i = 0; i < 20; i++) await tick();
    expect(at1).toEqual(['piece', 'have 3']);
  });

  it('unframed (over TCP): passes bytes as they are, paces delivery and pauses the transport meanwhile', async () => {
    const clock = new ManualClock();
    const [w, z] = memoryPair();
    const sent: Buffer[] = [];
    z.on('data', (c: Buffer) => sent.push(c));
    new PeerStream(w, { framed: false }).write('plain bytes');
    await tick();
    expect(Buffer.concat(sent).toString()).toBe('plain bytes');

    const [, y] = memoryPair();
    const b = new PeerStream(y, { framed: false, clock, pacer: new RateLimiter({ downloadBytesPerSec: 1_000_000 }, clock).forPeer() });
    let received = 0;
    b.on('data', (c: Buffer) => { received += c.byteLength; });
    y.push(Buffer.alloc(500_000));
    await tick();
    expect(received).toBe(0);
    expect(y.isPaused()).toBe(true);
    clock.advance(600);
    for (let i = 0; i < 20; i++) await tick();
    expect(received).toBe(500_000);
    expect(y.isPaused()).toBe(false);
  });

  it('unframed over a stream that encrypts in place: a record of its alloc() goes whole once paced; without alloc(), in frame-sized slices', async () => {
    const clock = new ManualClock();
    const writes = (inner: Duplex): Buffer[] => {
      const seen: Buffer[] = [];
      const write = inner.write.bind(inner);
      inner.write = ((chunk: Buffer) => { seen.push(chunk); return write(chunk); }) as typeof inner.write;
      return seen;
    };
    const [w] = memoryPair();
    const lent = new Set<Buffer>();
    Object.assign(w, { alloc: (n: number) => { const b = Buffer.alloc(n); lent.add(b); return b; } });
    const seen = writes(w);
    const a = new PeerStream(w, { framed: false, clock, pacer: new RateLimiter({ uploadBytesPerSec: 1_000_000 }, clock).forPeer() });
    const record = a.alloc!(300_000);
    expect(lent.has(record)).toBe(true);
    a.write(record);
    for (let ms = 0; ms < 400 && seen.length === 0; ms += 10) {
      clock.advance(10);
      await tick();
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(record);

    const [x] = memoryPair();
    const sliced = writes(x);
    const b = new PeerStream(x, { framed: false, clock, pacer: new RateLimiter({ uploadBytesPerSec: 1_000_000 }, clock).forPeer() });
    expect(b.alloc).toBeUndefined();
    b.write(Buffer.alloc(300_000));
    for (let ms = 0; ms < 1000; ms += 10) {
      clock.advance(10);
      await tick();
    }
    expect(sliced.map((c) => c.byteLength)).toEqual([65536, 65536, 65536, 65536, 300_000 - 4 * 65536]);
  });
});
