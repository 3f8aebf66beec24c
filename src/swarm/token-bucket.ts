import { ChunkswarmError, type Clock } from '../core/index.js';

/**
 * A token bucket for bytes, in "reservation" form: take() always succeeds and may leave the
 * bucket in debt, returning how long the caller must wait before using the bytes. Waiting for
 * the debt to be repaid keeps the long-run rate exact whatever the chunk sizes or timer jitter,
 * and a chunk larger than the burst simply waits longer instead of stalling forever.
 * The bucket starts empty, so an average taken from the first byte never exceeds the rate (we
 * emulate links with it); the burst only absorbs timer and event-loop lateness.
 */
export class TokenBucket {
  readonly bytesPerSec: number;
  readonly burst: number;
  private readonly clock: Clock;
  private tokens = 0;
  private last: number;

  constructor(opts: { bytesPerSec: number; burst?: number; clock: Clock }) {
    this.clock = opts.clock;
    if (!(opts.bytesPerSec > 0) || !Number.isFinite(opts.bytesPerSec)) {
      throw ChunkswarmError.config('rate limit', `bytes per second must be a positive number, got ${opts.bytesPerSec}`);
    }
    this.bytesPerSec = opts.bytesPerSec;
    this.burst = opts.burst ?? defaultBurst(opts.bytesPerSec);
    if (!(this.burst > 0)) throw ChunkswarmError.config('rate limit', `burst must be positive, got ${this.burst}`);
    this.last = this.clock.now();
  }

  /** Reserves `bytes`; returns the milliseconds to wait before sending/delivering them (0 = now). */
  take(bytes: number): number {
    this.refill();
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.bytesPerSec;
  }

  /** Tokens available now (negative while in debt). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.bytesPerSec) / 1000);
    this.last = now;
  }
}

/**
 * 100 ms worth of bytes (at least 64 KiB): a stall of the event loop shorter than that costs no
 * throughput, and it is at least one full frame.
 */
export function defaultBurst(bytesPerSec: number): number {
  return Math.max(64 * 1024, bytesPerSec / 10);
}
