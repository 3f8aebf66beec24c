import type { Availability } from './availability.js';
import type { PeerLink } from './peer-link.js';
import { LowestPick } from './random.js';
import type { SchedulerOptions } from './options.js';
import type { PeerId } from './types.js';

/** What the picker reads of the scheduler's state; it changes nothing. */
export interface PickerView {
  readonly avail: Availability;
  readonly links: ReadonlyMap<PeerId, PeerLink>;
  /** Missing pieces nobody has been asked for. */
  readonly wanted: ReadonlySet<number>;
  /** Missing pieces in flight -> the peers asked. */
  readonly requested: ReadonlyMap<number, ReadonlySet<PeerId>>;
  /** Piece -> peers that timed out or refused it. */
  readonly avoid: ReadonlyMap<number, ReadonlySet<PeerId>>;
  /** Per piece, how many peers that unchoke us hold it. */
  readonly sources: Readonly<Uint32Array>;
  readonly opts: SchedulerOptions;
  readonly meanPieceBytes: number;
  readonly random: () => number;
  readonly now: number;
}

/**
 * A piece that failed at a peer goes preferably to another one: the peer is passed over as long
 * as some other unchoked peer that has not failed it holds the piece (even if that peer's pipeline
 * is full for now). With no such peer, retrying the same one beats leaving the piece idle.
 */
function passOver(v: PickerView, index: number, peer: PeerId): boolean {
  const failed = v.avoid.get(index);
  if (!failed?.has(peer)) return false;
  for (const other of v.links.values()) {
    if (other.id !== peer && !other.choked && !failed.has(other.id) && v.avail.has(other.id, index)) return true;
  }
  return false;
}

/** Whether the peer may be asked for a piece it holds (cheap checks first: this is the hot loop). */
function askable(v: PickerView, link: PeerLink, index: number): boolean {
  return (link.refused.size === 0 || link.mayAsk(index, v.now, v.opts)) && (v.avoid.size === 0 || !passOver(v, index, link.id));
}

/**
 * Among the pieces this peer has and nobody has been asked for: first those that the fewest peers
 * unchoking us hold (a piece only this peer can give us now is asked of it, while pieces others
 * also hold are left for them: requests spread over the holders instead of every follower asking
 * the same peer for the same new piece), then the rarest among all peers.
 */
export function pickFresh(v: PickerView, link: PeerLink): number | undefined {
  const held = v.avail.bitsOf(link.id);
  if (!held) return undefined;
  const pick = new LowestPick(v.random);
  const spread = v.links.size + 1;
  for (const i of v.wanted) {
    if (held[i] !== 1) continue;
    const key = (v.sources[i] ?? 0) * spread + v.avail.count(i);
    if (pick.beats(key) && askable(v, link, i)) pick.offer(i, key);
  }
  return pick.index;
}

/** End-game: a piece already in flight elsewhere, the least duplicated first, then the rarest. */
export function pickDuplicate(v: PickerView, link: PeerLink): number | undefined {
  const pick = new LowestPick(v.random);
  const spread = v.links.size + 1;
  for (const [i, askedOf] of v.requested) {
    if (askedOf.has(link.id) || askedOf.size >= v.opts.endGameMaxRequests) continue;
    if (!waitedLongEnough(v, askedOf, i)) continue;
    if (v.avail.has(link.id, i) && askable(v, link, i)) pick.offer(i, askedOf.size * spread + v.avail.count(i));
  }
  return pick.index;
}

/**
 * A request is duplicated once it is late: older than `endGameDelayMs` and than twice what its
 * peer should need for it at its measured rate, counting the requests queued ahead of it. On a
 * slow link a pipelined request waits its turn for seconds; duplicating it then only doubles
 * the traffic of the last pieces.
 */
function waitedLongEnough(v: PickerView, askedOf: ReadonlySet<PeerId>, index: number): boolean {
  let soonest = Infinity;
  for (const peer of askedOf) {
    const link = v.links.get(peer);
    const at = link?.inflight.get(index);
    if (!link || at === undefined) continue;
    soonest = Math.min(soonest, at + Math.max(v.opts.endGameDelayMs, 2 * expectedWait(v, link, at)));
  }
  return v.now >= soonest;
}

/** Milliseconds the peer should take to deliver everything asked of it up to and including `at`. */
function expectedWait(v: PickerView, link: PeerLink, at: number): number {
  if (link.rate === undefined) return 0;
  let queued = 0;
  for (const t of link.inflight.values()) if (t <= at) queued++;
  return (queued * v.meanPieceBytes) / link.rate;
}

/**
 * End-game once few pieces are missing and none of them can be asked for fresh: every missing
 * piece some unchoked peer holds is already in flight. Without it the last pieces wait on the
 * slowest peer that happened to get them.
 */
export function inEndGame(v: PickerView, missing: number): boolean {
  if (missing > v.opts.endGameThreshold || v.requested.size === 0) return false;
  if (v.wanted.size === 0) return true;
  // Called on every event near the end: one availability lookup per peer, not per piece and peer.
  for (const link of v.links.values()) {
    if (link.choked) continue;
    const held = v.avail.bitsOf(link.id);
    if (held) for (const i of v.wanted) if (held[i] === 1) return false;
  }
  return true;
}
