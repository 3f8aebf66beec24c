import type { Bitfield, ChunkswarmError, Clock, ObjectHash, ReleaseId } from '../core/index.js';
import type { PieceRange } from '../manifest/index.js';
import type { NodeStatus } from './messages.js';

/**
 * What the wire needs from the node's storage; the session implements it over src/store.
 * The wire serves exactly the bytes it is given, so the store is the line of defence for what
 * leaves this node.
 */
export interface WireStore {
  /** The canonical encoding of a tree or file object, or null if this node does not hold it. */
  getObject(hash: ObjectHash): Promise<Uint8Array | null>;
  /**
   * Piece `index` of release `space`'s piece space (runs of its unique chunks in canonical
   * order), or null if it is not available. MUST re-hash every chunk read from disk and return
   * null on a mismatch, so that a file edited on disk never spreads (DESIGN.md, "chunk store").
   * `alloc`, if given, is where the piece's bytes should go: a buffer the connection lends and
   * takes back once they are copied into their record (see StreamLink.pieceBody); a reader may
   * ignore it. `range`: only that part of the piece (its chunks are read and re-hashed whole);
   * null if it does not fit the piece.
   */
  readPiece(space: ReleaseId, index: number, alloc?: (size: number) => Uint8Array, range?: PieceRange): Promise<Uint8Array | null>;
}

/**
 * The stream methods the wire uses. A Node Duplex fits, and so does a streamx Duplex such as
 * hyperswarm's NoiseSecretStream.
 */
export interface WireStream {
  on(event: 'data', listener: (chunk: unknown) => void): unknown;
  on(event: 'drain' | 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  write(data: Uint8Array): boolean;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
  /** A NoiseSecretStream's: a buffer that the next write() encrypts in place (see StreamLink). */
  alloc?(length: number): Uint8Array;
}

export interface WireLimits {
  /** Largest extension payload either way: heads, objects, space bitfields, status. Bounds object size. */
  maxMessageBytes: number;
  /** Piece plus object requests the peer may have outstanding with us; beyond it they are refused and counted as abuse. */
  maxOutstandingRequestsFromPeer: number;
  /** Per piece request; also the deadline for the peer to complete the handshakes. */
  requestTimeoutMs: number;
  /** Largest piece; default PIECE_MAX (1 MiB). */
  maxPieceBytes?: number;
  /** Largest piece space a peer may announce; default 2^26 (an 8 MiB bitfield). */
  maxPieces?: number;
}

export interface PeerWireOptions {
  /** The authenticated, encrypted connection; the PeerWire owns it from now on and destroys it on close. */
  stream: WireStream;
  /** Hex cluster id; the handshake info-hash is derived from it. */
  clusterId: string;
  /** 40 hex characters; see wirePeerId(). */
  peerId: string;
  /** Where everything the peer says and asks goes. */
  model: WireModel;
  limits: WireLimits;
  clock?: Clock;
}

/** A release's piece space as a peer announced it. */
export interface SpaceInfo {
  release: ReleaseId;
  pieceCount: number;
}

export interface WireStats {
  /** Piece payload bytes sent to the peer. */
  uploadedBytes: number;
  /** Piece payload bytes received from the peer (the session verifies them). */
  downloadedBytes: number;
  piecesServed: number;
  piecesReceived: number;
  /** Piece messages from the peer, late ones (for requests already given up) included: signs of life. */
  pieceMessages: number;
  objectsServed: number;
  /** Our piece requests to the peer not yet answered. */
  requestsInFlight: number;
  /** The peer's piece requests we have not answered yet. */
  peerRequestsInFlight: number;
  abuseCount: number;
}

/**
 * The one inbound interface of a connection (as Syncthing's protocol calls its `Model`): what the
 * peer tells us, what it asks of us, and what goes wrong with it. The session implements one per
 * connection; the wire calls nothing else. No method is called after closed().
 */
export interface WireModel extends WireStore {
  /** Both handshakes done: extension messages can flow. */
  ready(): void;
  /** A gossiped signed release (encodeSignedRelease bytes), NOT verified by the wire. */
  head(bytes: Uint8Array): void;
  /** The peer announced its piece space (bitfield in `remoteHave`); if the release changed, our requests to it failed with E_BUSY. */
  space(space: SpaceInfo): void;
  /** The peer has a new piece of its current space. */
  have(index: number): void;
  status(status: NodeStatus): void;
  /**
   * The peer asks for a preserved drift record ('' for the newest): answer with answerDrift(id, ...).
   * A model without it leaves the request unanswered (it times out on the peer's side).
   */
  driftRequest?(id: number, record: string): void;
  /** The peer choked (true) or unchoked (false) us. */
  choked(yes: boolean): void;
  /** The peer is interested in our pieces, or no longer. */
  interested(yes: boolean): void;
  /** How many peers unchoke the peer now, as it reports (only a peer that said it would: see sendUnchokers). */
  unchokers(count: number): void;
  /**
   * Asked before each piece upload; may wait (rate limiting) and returns false to decline
   * (choking, super-seeding). A declined request is answered with a BEP-6 reject.
   */
  allowUpload(index: number, bytes: number): boolean | Promise<boolean>;
  /** A piece that allowUpload let through could not be read here (declined to the peer). */
  unreadable?(index: number): void;
  /** A piece arrived in another size or at another offset than asked: proof of a broken or hostile peer. */
  badPiece(index: number, reason: string): void;
  /** The peer exceeded a limit; `count` is the total on this connection. */
  abuse(reason: string, count: number): void;
  /** A local fault while answering the peer (e.g. the store failed). */
  error(err: ChunkswarmError): void;
  /** Once. `reason`: null for an orderly close by either side, E_BAD_PEER when the peer broke the protocol. */
  closed(reason: ChunkswarmError | null): void;
}

/**
 * When a peer hears of a piece we gained: 'now'; 'later', batched with the others at the next
 * flushHaves() or before an unchoke (a peer we choke cannot ask us for it meanwhile); 'never' (the
 * peer holds it: it asks only for pieces it lacks, and a later space message carries it anyway).
 */
export type HaveTiming = 'now' | 'later' | 'never';

/** What the session does with a connection: PeerWire's public face (and what tests fake). */
export interface WireControl {
  readonly closed: boolean;
  /** The peer's current piece space and its pieces of it. */
  readonly remoteSpace: SpaceInfo | null;
  readonly remoteHave: Bitfield | null;
  readonly localSpace: SpaceInfo | null;
  readonly peerChoking: boolean;
  choke(): void;
  unchoke(): void;
  interested(): void;
  uninterested(): void;
  setSpace(release: ReleaseId, have: Bitfield): void;
  /** We hold piece `index`; the peer is told now, at the next flushHaves() or unchoke(), or never (see HaveTiming). */
  have(index: number, when?: HaveTiming): void;
  /** Sends the haves held back by have(i, 'later'). */
  flushHaves(): void;
  sendHead(release: Uint8Array): void;
  sendStatus(status: NodeStatus): void;
  /** Tells the peer how many peers unchoke us now; nothing to a peer that does not take it (an older node). */
  sendUnchokers(count: number): void;
  /** Whether the peer answers a request for part of a piece (older nodes take only whole pieces). */
  readonly takesRanges: boolean;
  /** `length` bytes of piece `index` from `offset` (default 0: the whole piece is `length` bytes); a part only with takesRanges. */
  requestPiece(index: number, length: number, offset?: number): Promise<Uint8Array>;
  cancelPiece(index: number): void;
  requestObject(hash: ObjectHash, timeoutMs: number): Promise<Uint8Array>;
  /** Asks for the peer's drift record `record` ('' for its newest); resolves with its encoded answer. E_TIMEOUT, E_CLOSED. */
  requestDrift(record: string, timeoutMs: number): Promise<Uint8Array>;
  /** Answers the peer's driftRequest `id`. */
  answerDrift(id: number, bytes: Uint8Array): void;
  stats(): WireStats;
  close(): Promise<void>;
}
