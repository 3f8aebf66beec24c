import { describe, expect, it } from 'vitest';
import { ManualClock, isChunkswarmError } from '../../src/core/index.js';
import { defaultBurst, RateLimiter, TokenBucket, type Pacer } from '../../src/swarm/index.js';

const MB = 1_000_000;

/** Sends `chunk`-sized pieces as fast as the waits allow for `ms`; returns the bytes sent. */
function drive(clock: ManualClock, take: (n: number) => number, chunk: number, ms: number): number {
  const end = clock.now() + ms;
  let sent = 0;
  for (;;) {
    const wait = take(chunk);
    if (clock.now() + wait > end) return sent;
    clock.advance(wait);
    sent += chunk;
  }
}

describe('TokenBucket', () => {
  it('starts empty and makes the caller wait for the debt to be repaid', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ bytesPerSec: 1000, burst: 500, clock });
    expect(bucket.take(500)).toBe(500);
    expect(bucket.take(250)).toBe(750);
    clock.advance(750);
    expect(bucket.available()).toBe(0);
    expect(bucket.take(100)).toBe(100);
  });

  it('never stores more than the burst', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ bytesPerSec: 1000, burst: 500, clock });
    clock.advance(60_000);
    expect(bucket.available()).toBe(500);
    expect(bucket.take(1500)).toBe(1000);
  });

  it('lets a chunk larger than the burst through after a longer wait', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ bytesPerSec: 1000, burst: 100, clock });
    clock.advance(10_000);
    expect(bucket.take(2100)).toBe(2000);
  });

  it.each([1, 5, 20, 50])('holds %i MB/s over 3 s, whatever the chunk size', (rate) => {
    for (const chunk of [1200, 16 * 1024, 64 * 1024, 256 * 1024]) {
      const clock = new ManualClock();
      const bucket = new TokenBucket({ bytesPerSec: rate * MB, clock });
      const sent = drive(clock, (n) => bucket.take(n), chunk, 3000);
      // Exactly the rate, give or take the chunk that did not fit.
      expect(Math.abs(sent - 3 * rate * MB)).toBeLessThanOrEqual(chunk);
    }
  });

  it('loses no throughput to a stall shorter than the burst', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ bytesPerSec: 10 * MB, clock });
    expect(defaultBurst(10 * MB)).toBe(MB);
    let sent = drive(clock, (n) => bucket.take(n), 64 * 1024, 1000);
    clock.advance(90); // the event loop was busy elsewhere
    sent += drive(clock, (n) => bucket.take(n), 64 * 1024, 1910);
    expect(Math.abs(sent - 30 * MB)).toBeLessThanOrEqual(2 * 64 * 1024);
  });

  it('refuses a zero, negative or infinite rate', () => {
    const clock = new ManualClock();
    for (const bytesPerSec of [0, -1, Infinity, Number.NaN]) {
      let caught: unknown;
      try {
        new TokenBucket({ bytesPerSec, clock });
      } catch (err) {
        caught = err;
      }
      expect(isChunkswarmError(caught, 'E_CONFIG')).toBe(true);
    }
  });
});

describe('RateLimiter', () => {
  it('paces nothing when every limit is 0', () => {
    const limiter = new RateLimiter({ uploadBytesPerSec: 0, downloadBytesPerSec: 0, perPeerUploadBytesPerSec: 0 }, new ManualClock());
    expect(limiter.forPeer()).toBeNull();
  });

  it('caps each peer at the per-peer rate and all peers together at the global rate', () => {
    const rates = (global: number, perPeer: number): number[] => {
      const clock = new ManualClock();
      const limiter = new RateLimiter({ uploadBytesPerSec: global * MB, perPeerUploadBytesPerSec: perPeer * MB }, clock);
      const peers = [limiter.forPeer()!, limiter.forPeer()!];
      // Two peers writing 64 KiB pieces, each as soon as its previous piece was allowed out.
      const sent = [0, 0];
      const readyAt = [0, 0];
      for (;;) {
        const i = readyAt[0]! <= readyAt[1]! ? 0 : 1;
        if (readyAt[i]! > 4000) break;
        clock.advance(readyAt[i]! - clock.now());
        readyAt[i] = clock.now() + peers[i]!.upload(64 * 1024);
        if (readyAt[i]! <= 4000) sent[i]! += 64 * 1024;
      }
      return sent.map((s) => s / 4 / MB);
    };
    const [a, b] = rates(20, 4);
    expect(Math.abs(a! - 4)).toBeLessThan(0.1);
    expect(Math.abs(b! - 4)).toBeLessThan(0.1);
    const [c, d] = rates(6, 4);
    expect(Math.abs(c! + d! - 6)).toBeLessThan(0.15);
  });

  it('shares the download bucket between peers and leaves uploads alone', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ downloadBytesPerSec: 2 * MB }, clock);
    const [p, q] = [limiter.forPeer() as Pacer, limiter.forPeer() as Pacer];
    expect(p.upload(10 * MB)).toBe(0);
    expect([p.download(MB), q.download(MB), p.download(MB)]).toEqual([500, 1000, 1500]);
  });
});
