import { ChunkswarmError } from '../core/index.js';

export interface SchedulerOptions {
  /** Upper bound of a peer's pipeline, whatever its throughput. */
  maxRequestsPerPeer: number;
  /**
   * Lower bound of a peer's pipeline. One is enough where the uploader serves several peers in turn
   * (its other streams fill the round trip); every request more waits in its queue and delays the
   * pieces behind it, which is what spreads a new piece through a swarm (bench/sim: 2 instead of 1
   * cost 0.08-0.1 x the bound at N=16-32).
   */
  minRequestsPerPeer: number;
  /** A request unanswered this long is given up and the piece asked of another peer. */
  requestTimeoutMs: number;
  /**
   * Pipeline depth aims at this much transfer time queued at each peer: enough to cover the round
   * trip, short enough that a piece does not wait behind seconds of others at a relaying peer.
   */
  targetQueueMs: number;
  /** End-game starts only once at most this many pieces are missing (and all are requested). */
  endGameThreshold: number;
  /** In end-game, the most peers one piece is requested from at once. */
  endGameMaxRequests: number;
  /**
   * In end-game, a piece is asked of a second peer only once its first request is this old (and
   * late for its peer's measured rate): a small update is all end-game, and duplicating every
   * request at once would double its traffic.
   */
  endGameDelayMs: number;
  /**
   * A peer that failed this many requests in a row, over at least `unresponsiveMs`, without
   * sending a piece is given up on: banned if it declined some (it announces pieces it does not
   * send), reported as stalled if it answered none (a staller or a dead connection). Honest peers
   * send a piece well within that time (the publisher's deferrals are not counted as failures).
   */
  unresponsiveFailures: number;
  unresponsiveMs: number;
  /**
   * Piece bytes in flight over all peers, beyond each peer's `minRequestsPerPeer` (those may take
   * it to twice this, no further): a node whose
   * download is capped gets pieces no faster than its cap however deep each peer's pipeline is,
   * and requests queued past it only wait into their timeouts and come back as duplicates.
   */
  maxInflightBytes: number;
}

export const DEFAULT_SCHEDULER_OPTIONS: Readonly<SchedulerOptions> = {
  maxRequestsPerPeer: 16,
  minRequestsPerPeer: 1,
  requestTimeoutMs: 30_000,
  targetQueueMs: 500,
  endGameThreshold: 32,
  endGameMaxRequests: 3,
  endGameDelayMs: 1_000,
  unresponsiveFailures: 4,
  unresponsiveMs: 30_000,
  maxInflightBytes: Number.POSITIVE_INFINITY,
};

/** Options usually come from swarm.config.json, so errors name the config field. */
export function checkSchedulerOptions(o: SchedulerOptions): SchedulerOptions {
  const positive: Array<keyof SchedulerOptions> = ['minRequestsPerPeer', 'maxRequestsPerPeer', 'requestTimeoutMs', 'targetQueueMs', 'endGameMaxRequests', 'unresponsiveFailures', 'unresponsiveMs', 'maxInflightBytes'];
  for (const k of positive) if (!(o[k] > 0)) throw ChunkswarmError.config(`scheduler.${k}`, `must be above 0, got ${o[k]}`);
  if (o.maxRequestsPerPeer < o.minRequestsPerPeer) {
    throw ChunkswarmError.config('scheduler.maxRequestsPerPeer', `must be at least minRequestsPerPeer (${o.minRequestsPerPeer}), got ${o.maxRequestsPerPeer}`);
  }
  if (!(o.endGameDelayMs >= 0)) throw ChunkswarmError.config('scheduler.endGameDelayMs', `must be 0 or more, got ${o.endGameDelayMs}`);
  if (!(o.endGameThreshold >= 0)) throw ChunkswarmError.config('scheduler.endGameThreshold', `must be 0 or more, got ${o.endGameThreshold}`);
  return o;
}
