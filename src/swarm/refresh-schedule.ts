/** While alone, look the topic up again this soon. */
export const REFRESH_ALONE_MS = 2000;
/** The first delay once a round found someone new. */
export const REFRESH_FOUND_MS = 2000;
/** The slowest pace, once the rounds stop finding anyone new. */
export const REFRESH_SETTLED_MS = 30_000;

/**
 * When to look the topic up again. hyperswarm's own round is ~10 minutes, so nodes started at the
 * same moment, each looking up before the others had announced, miss each other that long; a
 * cluster of 33 measured 30 s (one of our fixed rounds) before its last pairs met. So the pace
 * follows what the rounds find: quick while a round still turns up new nodes, halving its pace
 * with each round that turns up nobody, and quick again while the node has no peer at all.
 */
export class RefreshSchedule {
  private delay = REFRESH_FOUND_MS;

  /** The delay before the next round, given the outcome of the one that just ended. */
  next(round: { foundNew: boolean; peers: number }): number {
    if (round.peers === 0) {
      this.delay = REFRESH_FOUND_MS;
      return REFRESH_ALONE_MS;
    }
    this.delay = round.foundNew ? REFRESH_FOUND_MS : Math.min(this.delay * 2, REFRESH_SETTLED_MS);
    return this.delay;
  }
}
