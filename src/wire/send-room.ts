/**
 * How many bytes of piece answers one connection may have between "answered" and "taken by the
 * stream" at once. Answers wait their turn in order: a peer that asks faster than its link (or
 * its rate limit) lets it receive gets its requests queued here, where they still count against
 * its outstanding limit and can still be cancelled, instead of making us read, hash and buffer
 * pieces without bound. Event-driven: room frees when the link reports bytes sent.
 */
export class SendRoom {
  private used = 0;
  private readonly waiters: Array<{ bytes: number; go: () => void }> = [];
  private closed = false;

  constructor(private readonly limit: number) {}

  /** Resolves once `bytes` fit beside what is on its way (at once if nothing is), or the room closed. */
  take(bytes: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return Promise.resolve();
    }
    return new Promise((go) => this.waiters.push({ bytes, go }));
  }

  /** `bytes` taken earlier were sent, or will not be. */
  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!;
      this.used += w.bytes;
      w.go();
    }
  }

  /** The connection is gone: every waiter goes on (and finds it closed). */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.go();
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit;
  }
}
