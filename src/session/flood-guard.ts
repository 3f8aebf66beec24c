/** How long requests beyond the limit are counted together. */
export const FLOOD_WINDOW_MS = 10_000;

/**
 * Counts one connection's requests beyond its outstanding limit (the wire's 'abuse' events). A few
 * are a pipelining slip (e.g. a peer configured with a deeper pipeline); `limit` of them within
 * FLOOD_WINDOW_MS is a flood, and `onFlood` is called once.
 */
export class FloodGuard {
  private windowStart = Number.NEGATIVE_INFINITY;
  private inWindow = 0;
  private tripped = false;

  constructor(
    private readonly limit: number,
    private readonly onFlood: (reason: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  count(reason: string): void {
    const t = this.now();
    if (t - this.windowStart >= FLOOD_WINDOW_MS) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (++this.inWindow < this.limit || this.tripped) return;
    this.tripped = true;
    this.onFlood(`floods requests: ${this.inWindow} beyond its limit within ${FLOOD_WINDOW_MS / 1000} s (${reason})`);
  }
}
