/**
 * How a download judges one peer: a slow peer is not a liar. Only proof bans (a bad piece is
 * handled by the scheduler; here: a run of refusals of pieces the peer announced, while it was
 * not choking us). Slowness (requests unanswered within the timeout) only makes us leave the peer
 * alone for a while, longer each time; a peer that stays silent round after round although the
 * connection lives is reported as stalled, for the session to probe. Any piece data from the
 * peer, even too late to use, ends both runs. Pure: times come in as arguments.
 */
export interface StandingOptions {
  /** Failures in a row, over at least `spanMs`, that make a run count. */
  failures: number;
  spanMs: number;
  /** First back-off; each further round of silence doubles it, up to `maxBackOffMs`. */
  backOffMs: number;
  maxBackOffMs: number;
  /** Rounds of silence, each ended by a back-off, before the peer is reported as stalled. */
  stalledAfterRounds: number;
}

export type Verdict =
  | { kind: 'ban'; reason: string }
  | { kind: 'back-off'; ms: number; reason: string }
  | { kind: 'stalled'; reason: string };

export class PeerStanding {
  private refusals = 0;
  private refusingSince = 0;
  private silences = 0;
  private silentSince = 0;
  private rounds = 0;

  constructor(private readonly o: StandingOptions) {}

  /** A piece arrived (whether in time or not): the peer sends. */
  sent(): void {
    this.refusals = 0;
    this.silences = 0;
    this.rounds = 0;
  }

  /** The peer declined a piece it announced, while it was not choking us. */
  refused(now: number): Verdict | null {
    this.silences = 0;
    if (this.refusals++ === 0) this.refusingSince = now;
    const span = now - this.refusingSince;
    if (this.refusals < this.o.failures || span < this.o.spanMs) return null;
    return { kind: 'ban', reason: `announced pieces it does not send: refused ${this.refusals} requests in a row over ${seconds(span)} s without sending one` };
  }

  /** A request went unanswered within the timeout. */
  timedOut(now: number): Verdict | null {
    // A refusal run is proof only while unbroken: a peer that sometimes just does not answer may be loaded.
    this.refusals = 0;
    if (this.silences++ === 0) this.silentSince = now;
    const span = now - this.silentSince;
    if (this.silences < this.o.failures || span < this.o.spanMs) return null;
    const what = `${this.silences} requests in a row unanswered over ${seconds(span)} s`;
    this.silences = 0;
    if (++this.rounds >= this.o.stalledAfterRounds) {
      this.rounds = 0;
      return { kind: 'stalled', reason: `answered no piece request for ${this.o.stalledAfterRounds} rounds (last: ${what})` };
    }
    const ms = Math.min(this.o.maxBackOffMs, this.o.backOffMs * 2 ** (this.rounds - 1));
    return { kind: 'back-off', ms, reason: `${what}; left alone for ${seconds(ms)} s` };
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
