import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type HyperDHT from 'hyperdht';
import { describe, expect, it } from 'vitest';
import { ManualClock, isChunkswarmError } from '../../src/core/index.js';
import { authenticate, authMac, AUTH_FRAME_BYTES, encodeAuthFrame } from '../../src/swarm/index.js';

/** The few NoiseSecretStream members authenticate() uses; one side of an already-open session. */
class FakeConn extends EventEmitter {
  readonly publicKey = randomBytes(32);
  readonly remotePublicKey = randomBytes(32);
  readonly handshakeHash = randomBytes(64);
  readonly opened: Promise<boolean>;
  readonly written: Buffer[] = [];
  paused = false;

  constructor(opened = true) {
    super();
    this.opened = Promise.resolve(opened);
  }

  write(data: Uint8Array): boolean {
    this.written.push(Buffer.from(data));
    return true;
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  /** What an honest remote with `secret` sends first. */
  remoteFrame(secret: Uint8Array): Buffer {
    return encodeAuthFrame(authMac(secret, this.handshakeHash, this.remotePublicKey));
  }

  asStream(): HyperDHT.NoiseSecretStream {
    return this as unknown as HyperDHT.NoiseSecretStream;
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function start(conn: FakeConn, secret: Uint8Array, clock = new ManualClock(), timeoutMs = 5000) {
  const result = authenticate(conn.asStream(), { clusterSecret: secret, timeoutMs, clock }).then(
    (leftover) => ({ leftover, err: null }),
    (err: unknown) => ({ leftover: null, err }),
  );
  await tick();
  return result;
}

describe('authenticate', () => {
  const secret = randomBytes(32);

  it('sends a MAC bound to the session and its own key, and keeps bytes that follow the frame', async () => {
    const conn = new FakeConn();
    const result = start(conn, secret);
    await tick();
    expect(conn.written).toEqual([encodeAuthFrame(authMac(secret, conn.handshakeHash, conn.publicKey))]);

    const app = Buffer.from('application bytes in the same read');
    conn.emit('data', Buffer.concat([conn.remoteFrame(secret), app]));
    const { leftover, err } = await result;
    expect(err).toBeNull();
    expect(leftover).toEqual(app);
    expect(conn.paused).toBe(true); // nothing more is read until the application stream takes over
    expect(conn.listenerCount('data')).toBe(0);
  });

  it('accepts a frame split over many reads', async () => {
    const conn = new FakeConn();
    const result = start(conn, secret);
    await tick();
    for (const byte of conn.remoteFrame(secret)) conn.emit('data', Buffer.from([byte]));
    const { leftover, err } = await result;
    expect(err).toBeNull();
    expect(leftover?.byteLength).toBe(0);
  });

  it('rejects a MAC made with another secret', async () => {
    const conn = new FakeConn();
    const result = start(conn, secret);
    await tick();
    conn.emit('data', conn.remoteFrame(randomBytes(32)));
    expect(isChunkswarmError((await result).err, 'E_AUTH')).toBe(true);
  });

  it('rejects our own MAC reflected back', async () => {
    const conn = new FakeConn();
    const result = start(conn, secret);
    await tick();
    conn.emit('data', conn.written[0]!);
    expect(isChunkswarmError((await result).err, 'E_AUTH')).toBe(true);
  });

  it('rejects a malformed frame as soon as its length is wrong', async () => {
    const conn = new FakeConn();
    const result = start(conn, secret);
    await tick();
    conn.emit('data', Buffer.from([0x10, 0x00]));
    expect(isChunkswarmError((await result).err, 'E_AUTH')).toBe(true);
  });

  it('gives up on a silent peer after the timeout', async () => {
    const conn = new FakeConn();
    const clock = new ManualClock();
    const result = start(conn, secret, clock, 1500);
    await tick();
    conn.emit('data', conn.remoteFrame(secret).subarray(0, AUTH_FRAME_BYTES - 1));
    clock.advance(1499);
    await tick();
    clock.advance(1);
    expect(isChunkswarmError((await result).err, 'E_TIMEOUT')).toBe(true);
  });

  it('reports a connection that closes first as closed, not as a failed proof', async () => {
    const conn = new FakeConn();
    const result = start(conn, secret);
    await tick();
    conn.emit('close');
    expect(isChunkswarmError((await result).err, 'E_CLOSED')).toBe(true);

    const never = new FakeConn(false);
    expect(isChunkswarmError((await start(never, secret)).err, 'E_CLOSED')).toBe(true);
    expect(never.written).toEqual([]);
  });
});
