/** A peer as the session names it (e.g. the hex of its swarm public key). */
export type PeerId = string;

/**
 * Pieces a peer holds: either a BitTorrent bitfield (bit i is `0x80 >> (i % 8)` of byte `i >> 3`)
 * or a list of indexes. A Uint8Array is always read as a bitfield, never as a list.
 */
export type PieceSet = Iterable<number> | Uint8Array;

/** What the download scheduler asks the session to do on the wire. */
export type SchedulerAction =
  | { type: 'request'; peer: PeerId; index: number }
  | { type: 'cancel'; peer: PeerId; index: number }
  | { type: 'ban'; peer: PeerId; reason: string }
  /** The peer answered none of its recent requests: a staller, or a dead connection (see options). */
  | { type: 'stalled'; peer: PeerId; reason: string }
  | { type: 'interested'; peer: PeerId }
  | { type: 'not-interested'; peer: PeerId };

/** How a request failed at the peer: it declined it (BEP-6 reject), or never answered. */
export type RequestFailure = 'declined' | 'timeout';

/** What the choker asks the session to send. */
export type ChokeAction = { type: 'choke' | 'unchoke'; peer: PeerId };

/** A super-seeding offer: send `have(index)` to `peer`. */
export type OfferAction = { type: 'have'; peer: PeerId; index: number };

export type Action = SchedulerAction | ChokeAction | OfferAction;

export interface PeerDownloadStats {
  bytesReceived: number;
  piecesReceived: number;
  inFlight: number;
  /** Bytes per millisecond (EWMA of service times); 0 until a piece arrived. */
  throughput: number;
  pipelineDepth: number;
  choked: boolean;
  interested: boolean;
}

export interface DownloadProgress {
  have: number;
  total: number;
  bytesHave: number;
  bytesTotal: number;
}

/** Why the missing pieces are not arriving: each missing piece counted once, in the first class that fits. */
export interface DownloadWaiting {
  missing: number;
  /** Asked of a peer, answer pending. */
  requested: number;
  /** On no connected peer. */
  unavailable: number;
  /** Only on peers that choke us (or that we leave alone for a while). */
  choked: number;
  /** Its unchoking holders refused it lately (the publisher defers pieces others can give). */
  refused: number;
  /** Askable, not asked yet: the pipelines are full. */
  queued: number;
}
