/** Fakes for unit tests of the session's data path: a wire driven by hand and a stager in memory. */
import { createHash, randomBytes } from 'node:crypto';
import {
  Bitfield, asChunkHash, asReleaseId, bitfieldBytes, getBit, setBit, ChunkswarmError,
  type ObjectHash, type ReleaseId,
} from '../../src/core/index.js';
import { wholePiece, type Piece, type PieceRange } from '../../src/manifest/index.js';
import type { HaveTiming, NodeStatus, SpaceInfo, WireControl, WireStats } from '../../src/wire/index.js';
import type { PieceStore } from '../../src/session/download.js';
import type { SessionPeer } from '../../src/session/peer.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Pending {
  length: number;
  offset: number;
  resolve(bytes: Uint8Array): void;
  reject(err: Error): void;
}

/** A WireControl whose peer the test plays: it announces, answers or fails requests by hand. */
export class FakeWire implements WireControl {
  closed = false;
  remoteSpace: SpaceInfo | null = null;
  remoteHave: Bitfield | null = null;
  localSpace: SpaceInfo | null = null;
  /** What we announced to the peer: our space's bitfield and every have() since. */
  localHave: Bitfield | null = null;
  peerChoking = true;
  /** Whether the peer answers parts of pieces (PeerWire: its extended handshake). */
  takesRanges = true;
  amChoking = true;
  amInterested = false;
  /** Our piece requests not yet answered, by index. */
  readonly requests = new Map<number, Pending>();
  readonly cancelled: number[] = [];
  private pieceMessages = 0;

  choke(): void {
    this.amChoking = true;
  }
  unchoke(): void {
    this.flushHaves();
    this.amChoking = false;
  }
  interested(): void {
    this.amInterested = true;
  }
  uninterested(): void {
    this.amInterested = false;
  }
  setSpace(release: ReleaseId, have: Bitfield): void {
    this.localSpace = { release, pieceCount: have.length };
    this.localHave = have.clone();
  }
  /** The `have` messages sent, in order. */
  readonly told: number[] = [];
  /** Held back by have(i, 'later'). */
  readonly later: number[] = [];
  have(index: number, when: HaveTiming = 'now'): void {
    this.localHave!.set(index);
    if (when === 'now') this.told.push(index);
    else if (when === 'later') this.later.push(index);
  }
  flushHaves(): void {
    this.told.push(...this.later.splice(0));
  }
  sendHead(_release: Uint8Array): void {}
  sendStatus(_status: NodeStatus): void {}
  /** Every count sent, in order. */
  readonly unchokersSent: number[] = [];
  sendUnchokers(count: number): void {
    this.unchokersSent.push(count);
  }

  requestPiece(index: number, length: number, offset = 0): Promise<Uint8Array> {
    if (this.requests.has(index)) return Promise.reject(new ChunkswarmError('E_BUSY', `piece ${index} already requested`));
    return new Promise((resolve, reject) => this.requests.set(index, { length, offset, resolve, reject }));
  }

  cancelPiece(index: number): void {
    const r = this.requests.get(index);
    if (!r) return;
    this.requests.delete(index);
    this.cancelled.push(index);
    r.reject(new ChunkswarmError('E_CLOSED', `request for piece ${index} withdrawn`));
  }

  requestObject(hash: ObjectHash): Promise<Uint8Array> {
    return Promise.reject(ChunkswarmError.notFound(`object ${hash}`));
  }

  requestDrift(record: string): Promise<Uint8Array> {
    return Promise.reject(ChunkswarmError.notFound(`drift record ${record}`));
  }

  answerDrift(): void {}

  stats(): WireStats {
    return {
      uploadedBytes: 0, downloadedBytes: 0, piecesServed: 0, piecesReceived: 0, pieceMessages: this.pieceMessages,
      objectsServed: 0, requestsInFlight: this.requests.size, peerRequestsInFlight: 0, abuseCount: 0,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // The peer's side.
  announce(release: ReleaseId, have: Bitfield): void {
    this.remoteSpace = { release, pieceCount: have.length };
    this.remoteHave = have.clone();
  }

  /** Answers a pending request (a piece message arrives). */
  answer(index: number, bytes: Uint8Array): void {
    const r = this.requests.get(index);
    if (!r) throw new Error(`piece ${index} was not requested`);
    this.requests.delete(index);
    this.pieceMessages++;
    r.resolve(bytes);
  }

  /** Fails a pending request as the wire would (a timeout, a decline). */
  failRequest(index: number, err: Error): void {
    const r = this.requests.get(index);
    if (!r) throw new Error(`piece ${index} was not requested`);
    this.requests.delete(index);
    r.reject(err);
  }
}

export function fakePeer(key: string, publisher = false): SessionPeer & { wire: FakeWire } {
  return { key, wire: new FakeWire(), publisher, path: 'tcp' };
}

/** A stager in memory: verifies what it is given, as the real one does. */
export class MemoryStager implements PieceStore {
  readonly releaseId: ReleaseId;
  readonly pieces: Piece[];
  readonly data: Uint8Array[];
  readonly written = new Map<number, Uint8Array>();
  /** The part of a piece this node lacks, where it is not the whole piece (an update's linked chunks). */
  readonly parts = new Map<number, PieceRange>();
  /** Pieces whose chunks outside the part are gone from this node (writePiece: E_NOT_FOUND, once). */
  readonly lost = new Set<number>();
  private readonly done: Uint8Array;

  constructor(sizes: number[], name = 'release') {
    this.releaseId = asReleaseId(sha256(Buffer.from(name)));
    this.data = sizes.map((n) => new Uint8Array(randomBytes(n)));
    // One chunk per piece: the chunk-by-chunk check is the real stager's (deploy-stager tests).
    this.pieces = this.data.map((d) => ({ size: d.length, chunks: [{ hash: asChunkHash(sha256(d)), size: d.length }] }));
    this.done = bitfieldBytes(sizes.length);
  }

  bitfield(): Uint8Array {
    return this.done.slice();
  }

  hasPiece(index: number): boolean {
    return getBit(this.done, index);
  }

  wantedRange(index: number): PieceRange {
    return this.parts.get(index) ?? wholePiece(this.pieces[index]!);
  }

  async writePiece(index: number, bytes: Uint8Array, offset = 0): Promise<boolean> {
    const want = sha256(this.data[index]!.subarray(offset, offset + bytes.length));
    const got = sha256(bytes);
    const whole = offset === 0 && bytes.length === this.pieces[index]!.size;
    const part = this.parts.get(index);
    if (got !== want || (!whole && (part?.offset !== offset || part.length !== bytes.length))) {
      throw ChunkswarmError.hashMismatch(`piece ${index}, chunk 0`, want, got);
    }
    if (!whole && this.lost.delete(index)) {
      this.parts.delete(index);
      throw new ChunkswarmError('E_NOT_FOUND', `piece ${index}: a chunk outside the part is gone`);
    }
    if (this.hasPiece(index)) return false;
    this.written.set(index, bytes);
    setBit(this.done, index, true);
    return true;
  }
}

/** Lets promise callbacks (a request's answer reaching Download) run. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};
