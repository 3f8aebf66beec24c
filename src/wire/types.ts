import type { ChunkswarmError, Clock, ObjectHash, ReleaseId } from '../core/index.js';
import type { NodeStatus } from './messages.js';
import type { PeerWire } from './peer-wire.js';

/**
 * What the wire needs from the node's storage; the session implements it over src/store.
 * The wire serves exactly the bytes it is given, so the store is the line of defence for what
 * leaves this node.
 */
export interface WireStore {
  /** The canonical encoding of a tree or file object, or null if this node does not hold it. */
  getObject(hash: ObjectHash): Promise<Uint8Array | null>;
  /**
   * The whole chunk at `index` of release `space`'s piece space (its unique chunks in canonical
   * order), or null if it is not available. MUST re-hash the chunk read from disk and return null
   * on mismatch, so that a file edited on disk never spreads (DESIGN.md, "chunk store").
   */
  readPiece(space: ReleaseId, index: number): Promise<Uint8Array | null>;
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
  /** Largest piece; default CHUNK_MAX (256 KiB). */
  maxPieceBytes?: number;
  /** Largest piece space a peer may announce; default 2^26 (an 8 MiB bitfield). */
  maxPieces?: number;
}

/**
 * Asked before each piece upload; may wait (rate limiting) and returns false to decline
 * (choking, super-seeding). A declined request is answered with a BEP-6 reject.
 */
export type UploadGate = (peer: PeerWire, index: number, bytes: number) => boolean | Promise<boolean>;

export interface PeerWireOptions {
  /** The authenticated, encrypted connection; the PeerWire owns it from now on and destroys it on close. */
  stream: WireStream;
  /** Hex cluster id; the handshake info-hash is derived from it. */
  clusterId: string;
  /** 40 hex characters; see wirePeerId(). */
  peerId: string;
  store: WireStore;
  limits: WireLimits;
  clock?: Clock;
  beforeUpload?: UploadGate;
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

export interface PeerWireEvents {
  /** Both handshakes done: extension messages can flow. */
  ready: [];
  /** A gossiped signed release (encodeSignedRelease bytes), NOT verified by the wire. */
  head: [bytes: Uint8Array];
  /** The peer announced its piece space (bitfield in `peer.remoteHave`); if the release changed, our requests to it failed with E_BUSY. */
  space: [space: SpaceInfo];
  /** The peer has a new piece of its current space. */
  have: [index: number];
  status: [status: NodeStatus];
  choke: [];
  unchoke: [];
  interested: [];
  uninterested: [];
  /** The peer broke the protocol; the connection is being destroyed. */
  'bad-peer': [reason: string];
  /** A piece arrived in another size or at another offset than asked; the session decides whether to ban. */
  'bad-piece': [index: number, reason: string];
  /** The peer exceeded a limit; `count` is the total on this connection. */
  abuse: [reason: string, count: number];
  /** Once; `reason` is null for an orderly close by either side. */
  close: [reason: ChunkswarmError | null];
  /** A local fault while answering the peer (e.g. the store failed); only emitted if someone listens. */
  error: [err: ChunkswarmError];
}
