import type { SchedulerOptions } from './options.js';
import type { PeerId } from './types.js';

/** Weight of the newest throughput sample: reacts within a few pieces, ignores one outlier. */
const EWMA_ALPHA = 0.3;

/** Our download side of one connection: its pipeline and how fast it has been serving us. */
export class PeerLink {
  /** Peers start choked, as on the wire: nothing is requested until they unchoke us. */
  choked = true;
  /** Whether we told the peer we are interested (it has pieces we lack). */
  interested = false;
  /** Pieces it has that we still lack; interest is `useful > 0`. */
  useful = 0;
  /** index -> time requested. */
  readonly inflight = new Map<number, number>();
  /** index -> time the peer refused it; not asked again for a request timeout. */
  readonly refused = new Map<number, number>();
  bytesReceived = 0;
  piecesReceived = 0;
  /** Requests failed since its last piece, since when, and whether it declined any of them. */
  failures = 0;
  failingSince = 0;
  declinedSome = false;
  /** Reported stalled: asked nothing more until the session resolves it (ban or disconnect). */
  stalled = false;
  /** Bytes per millisecond, undefined until the first piece arrives. */
  rate: number | undefined;
  private lastArrival = Number.NEGATIVE_INFINITY;

  constructor(
    readonly id: PeerId,
    /** Join order: a stable tie-break between peers of equal rate. */
    readonly order: number,
  ) {}

  /**
   * A pipelined peer sends its pieces back to back, so a piece's service time starts when the
   * previous one arrived, not when it was requested (that would count queueing as slowness).
   */
  recordArrival(requestedAt: number, now: number, bytes: number): void {
    const start = Math.max(requestedAt, this.lastArrival);
    const sample = bytes / Math.max(1, now - start);
    this.rate = this.rate === undefined ? sample : this.rate + EWMA_ALPHA * (sample - this.rate);
    this.lastArrival = now;
  }

  /** Piece data arrived from the peer (even too late to use): its run of failures is over. */
  recordActivity(): void {
    this.failures = 0;
  }

  recordFailure(kind: 'declined' | 'timeout', now: number): void {
    if (this.failures++ === 0) {
      this.failingSince = now;
      this.declinedSome = false;
    }
    if (kind === 'declined') this.declinedSome = true;
  }

  /** Whether to give up on the peer (SchedulerOptions.unresponsiveFailures), and why. */
  unresponsive(now: number, opts: SchedulerOptions): { declined: boolean; what: string } | null {
    const span = now - this.failingSince;
    if (this.stalled || this.failures < opts.unresponsiveFailures || span < opts.unresponsiveMs) return null;
    return { declined: this.declinedSome, what: `${this.failures} requests in a row failed over ${(span / 1000).toFixed(1)} s without a piece` };
  }

  /** A timeout halves the estimate (multiplicative decrease), so the pipeline shrinks at once. */
  recordTimeout(bytes: number, elapsedMs: number): void {
    this.rate = this.rate === undefined ? bytes / Math.max(1, elapsedMs) : this.rate / 2;
  }

  /** Enough requests to keep `targetQueueMs` of transfer queued at this peer's measured rate. */
  depth(opts: SchedulerOptions, meanPieceBytes: number): number {
    if (this.rate === undefined) return opts.minRequestsPerPeer;
    const wanted = Math.ceil((this.rate * opts.targetQueueMs) / meanPieceBytes);
    return Math.min(opts.maxRequestsPerPeer, Math.max(opts.minRequestsPerPeer, wanted));
  }

  mayAsk(index: number, now: number, opts: SchedulerOptions): boolean {
    const at = this.refused.get(index);
    if (at === undefined) return true;
    if (now - at < opts.requestTimeoutMs) return false;
    this.refused.delete(index);
    return true;
  }
}
