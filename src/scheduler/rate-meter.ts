import type { Clock } from '../core/index.js';

/**
 * Bytes per millisecond over a sliding window, kept in coarse buckets so memory stays constant.
 * The choker ranks peers by these rates; a window of ~20 s smooths TCP's bursts.
 */
export class RateMeter {
  private readonly buckets = new Map<number, number>();
  private readonly started: number;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = 20_000,
    private readonly bucketMs = 1_000,
  ) {
    this.started = clock.now();
  }

  add(bytes: number): void {
    const b = Math.floor(this.clock.now() / this.bucketMs);
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + bytes);
    this.prune(b);
  }

  /** A young meter divides by its age, not the full window, so a new peer is not underrated. */
  rate(): number {
    const now = this.clock.now();
    this.prune(Math.floor(now / this.bucketMs));
    let sum = 0;
    for (const v of this.buckets.values()) sum += v;
    const span = Math.min(this.windowMs, Math.max(this.bucketMs, now - this.started));
    return sum / span;
  }

  private prune(current: number): void {
    const oldest = current - Math.ceil(this.windowMs / this.bucketMs);
    for (const b of this.buckets.keys()) if (b <= oldest) this.buckets.delete(b);
  }
}
