import Wire from 'bittorrent-protocol';
import { Bitfield, ChunkswarmError, systemClock, type ObjectHash, type ReleaseId } from '../core/index.js';
import { PIECE_MAX } from '../manifest/index.js';
import { FrameGuard } from './frame-guard.js';
import { checkPeerId, clusterInfoHash } from './info-hash.js';
import { DriftClient } from './drift-client.js';
import { MAX_UNCHOKERS, decodeMessage, encodeMessage, type ExtMessage, type NodeStatus } from './messages.js';
import { ObjectClient } from './object-client.js';
import { PieceClient } from './piece-client.js';
import { Responder, type LocalSpace } from './responder.js';
import { SendRoom } from './send-room.js';
import { EXTENSION_NAME, extensionClass, StreamLink } from './stream-link.js';
import type { HaveTiming, PeerWireOptions, SpaceInfo, WireControl, WireModel, WireStats, WireStream } from './types.js';

const DEFAULT_MAX_PIECES = 2 ** 26;
/** type + release id + piece count + bitfield encoding (messages.ts). */
const SPACE_HEADER_BYTES = 1 + 32 + 4 + 1;
/** The library tracks the peer's pieces for one torrent forever; ours change per space, so we keep them ourselves. */
const NOT_TRACKED = { get: () => false, set: () => undefined };
/** Piece answers on their way to the stream at once, in pieces of the largest size. */
const PIECES_IN_FLIGHT = 2;
/** The key of our extended handshake saying that we answer getObjects (older nodes do not; see ObjectClient). */
const OBJECT_BATCHES = 'chunkswarm_batches';
/** The key saying that we answer a request for part of a piece (an older node declines one and counts it as abuse). */
const PIECE_RANGES = 'chunkswarm_ranges';
/** The key saying that we take unchokers messages (an older node drops a peer for a message type it does not know). */
const UNCHOKERS = 'chunkswarm_unchokers';

/**
 * One connection to one peer: bittorrent-protocol over an authenticated duplex stream, plus our
 * BEP-10 extension for heads, objects, piece spaces and status. Everything inbound goes to one
 * WireModel. It never throws at the peer's doing: a peer that breaks the protocol is dropped, and
 * the model hears closed() with the reason.
 */
export class PeerWire implements WireControl {
  private readonly stream: WireStream;
  private readonly model: WireModel;
  private readonly wire = new Wire();
  private readonly guard: FrameGuard;
  private readonly pieces: PieceClient;
  private readonly objects: ObjectClient;
  private readonly drifts: DriftClient;
  private readonly responder: Responder;
  private readonly room: SendRoom;
  private readonly link: StreamLink;
  private readonly maxMessageBytes: number;
  private readonly maxPieces: number;
  private local: LocalSpace | null = null;
  private remote: { info: SpaceInfo; have: Bitfield } | null = null;
  private outbox: Uint8Array[] = [];
  /** Pieces recorded by have(i, 'later') and not told yet. */
  private laterHaves: number[] = [];
  private isReady = false;
  private ranges = false;
  private takesUnchokers = false;
  private isClosed = false;
  private abuseCount = 0;
  private piecesServed = 0;
  private pieceMessages = 0;
  private uploadedBytes = 0;
  private handshakeTimer: { cancel(): void } | null = null;
  private readonly readyPromise: Promise<void>;
  private settleReady!: (err?: ChunkswarmError) => void;
  /** The peer's 40-hex wire peer id, once its handshake arrived. */
  remotePeerId: string | null = null;

  constructor(opts: PeerWireOptions) {
    const clock = opts.clock ?? systemClock;
    const { limits } = opts;
    const maxPieceBytes = limits.maxPieceBytes ?? PIECE_MAX;
    this.maxMessageBytes = limits.maxMessageBytes;
    this.maxPieces = limits.maxPieces ?? DEFAULT_MAX_PIECES;
    this.stream = opts.stream;
    this.model = opts.model;
    const infoHash = clusterInfoHash(opts.clusterId);
    // The library answers a request from a peer we choke with a reject, unseen by the responder:
    // an honest peer sends one only if it crossed our choke, so each one counts as abuse.
    this.guard = new FrameGuard(infoHash, { maxExtendedBytes: this.maxMessageBytes, maxPieceBytes }, () => {
      if (this.wire.amChoking) this.abuse('request while choked');
    });
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.settleReady = (err) => (err ? reject(err) : resolve());
    });
    this.readyPromise.catch(() => undefined); // observed through ready() or closed()
    this.pieces = new PieceClient(this.wire, clock, limits.requestTimeoutMs, maxPieceBytes, (i, why) => this.isClosed || this.model.badPiece(i, why));
    this.objects = new ObjectClient(clock, (m) => this.send(m), (why) => this.fail(why));
    this.drifts = new DriftClient(clock, (m) => this.send(m));
    this.room = new SendRoom(PIECES_IN_FLIGHT * maxPieceBytes);
    this.responder = new Responder({
      wire: this.wire,
      model: this.model,
      room: this.room,
      limits: { maxOutstanding: limits.maxOutstandingRequestsFromPeer, maxPieceBytes, maxMessageBytes: this.maxMessageBytes },
      space: () => this.local,
      isClosed: () => this.isClosed,
      send: (m) => this.send(m),
      pieceBody: (size) => this.link.pieceBody(size),
      abuse: (why) => this.abuse(why),
    });
    this.wire.peerPieces = NOT_TRACKED;
    this.wire.use(extensionClass((payload) => this.onExtMessage(payload)));
    this.wire.extendedHandshake[OBJECT_BATCHES] = 1;
    this.wire.extendedHandshake[PIECE_RANGES] = 1;
    this.wire.extendedHandshake[UNCHOKERS] = 1;
    this.listenToWire();
    this.link = new StreamLink(this.stream, this.wire, this.guard, {
      problem: (why) => this.fail(why),
      ended: (err) => this.shutdown(err),
      isClosed: () => this.isClosed,
      pieceBytesSent: (n) => this.room.give(n),
    });
    this.wire.handshake(infoHash, checkPeerId(opts.peerId), { fast: true });
    this.handshakeTimer = clock.setTimeout(
      () => this.fail(`no handshake within ${limits.requestTimeoutMs} ms`),
      limits.requestTimeoutMs,
    );
  }

  /** Resolves once both handshakes are done; rejects with E_CLOSED/E_BAD_PEER if the connection ends first. */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  /** Destroys the connection; pending requests fail with E_CLOSED. Safe to call twice. */
  async close(): Promise<void> {
    this.shutdown(null);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get remoteSpace(): SpaceInfo | null {
    return this.remote?.info ?? null;
  }

  /** The peer answers requests for part of a piece (its extended handshake says so). */
  get takesRanges(): boolean {
    return this.ranges;
  }

  /** The peer's pieces of `remoteSpace`; read-only for callers. */
  get remoteHave(): Bitfield | null {
    return this.remote?.have ?? null;
  }

  get localSpace(): SpaceInfo | null {
    return this.local ? { release: this.local.release, pieceCount: this.local.have.length } : null;
  }

  get amChoking(): boolean {
    return this.wire.amChoking;
  }
  get amInterested(): boolean {
    return this.wire.amInterested;
  }
  get peerChoking(): boolean {
    return this.wire.peerChoking;
  }
  get peerInterested(): boolean {
    return this.wire.peerInterested;
  }

  choke(): void {
    if (!this.isClosed) this.wire.choke();
  }
  unchoke(): void {
    // The peer learns what it may ask for before it may ask.
    this.flushHaves();
    if (!this.isClosed) this.wire.unchoke();
  }
  interested(): void {
    if (!this.isClosed) this.wire.interested();
  }
  uninterested(): void {
    if (!this.isClosed) this.wire.uninterested();
  }

  /**
   * Moves this side to release `release`'s piece space, whose length is `have.length` (copied).
   * From now on our `have()` messages and the pieces we serve refer to it.
   */
  setSpace(release: ReleaseId, have: Bitfield): void {
    const worst = SPACE_HEADER_BYTES + have.bytes.length;
    if (worst > this.maxMessageBytes) throw ChunkswarmError.tooLarge(`bitfield message for ${have.length} pieces`, worst, this.maxMessageBytes);
    this.local = { release, have: have.clone() };
    this.laterHaves = []; // their indices were of the old space; the space message carries the new one's
    if (this.isReady) this.sendSpace();
  }

  /**
   * We now hold piece `index` of our current space: it is served from now on, and a later space
   * message carries it; `when` says when the peer gets a `have` message for it.
   */
  have(index: number, when: HaveTiming = 'now'): void {
    if (this.local === null) throw new ChunkswarmError('E_USAGE', 'PeerWire.have() called before setSpace()');
    if (!this.local.have.set(index) || when === 'never' || !this.isReady || this.isClosed) return;
    if (when === 'now') this.wire.have(index);
    else this.laterHaves.push(index);
  }

  flushHaves(): void {
    const indices = this.laterHaves;
    if (indices.length === 0) return;
    this.laterHaves = [];
    if (!this.isClosed) for (const i of indices) this.wire.have(i);
  }

  /** Gossips a signed release (encodeSignedRelease bytes). */
  sendHead(release: Uint8Array): void {
    this.send({ type: 'head', release });
  }

  sendStatus(status: NodeStatus): void {
    this.send({ type: 'status', status });
  }

  sendUnchokers(count: number): void {
    if (this.isReady && this.takesUnchokers) this.send({ type: 'unchokers', count: Math.min(count, MAX_UNCHOKERS) });
  }

  /**
   * Fetches `length` bytes of piece `index` of the peer's current space from `offset` (the whole
   * piece, or with takesRanges a part of it), NOT verified (the caller hashes them where it stores
   * them). Rejects with E_PROTOCOL (a block of another size or offset; 'bad-piece' is emitted),
   * E_TIMEOUT, E_BUSY (choked, declined, peer moved to another space), E_NOT_FOUND (not in the
   * peer's space) or E_CLOSED.
   */
  requestPiece(index: number, length: number, offset = 0): Promise<Uint8Array> {
    if (this.isClosed) return Promise.reject(closedError());
    return this.pieces.request(this.remote?.info ?? null, index, length, offset);
  }

  /** Withdraws a piece request (see PieceClient.cancel). */
  cancelPiece(index: number): void {
    if (!this.isClosed) this.pieces.cancel(index);
  }

  /**
   * Asks the peer for its preserved drift record `record` ('' for its newest); resolves with its
   * answer, as encoded by the peer's session (the caller bounds and decodes it). Rejects with
   * E_TIMEOUT or E_CLOSED.
   */
  requestDrift(record: string, timeoutMs: number): Promise<Uint8Array> {
    if (this.isClosed) return Promise.reject(closedError());
    return this.drifts.request(record, timeoutMs);
  }

  /** Answers the peer's 'drift-request' `id`. */
  answerDrift(id: number, bytes: Uint8Array): void {
    this.send({ type: 'drift', id, bytes });
  }

  /** Fetches an object by hash; rejects with E_NOT_FOUND, E_TIMEOUT, E_HASH_MISMATCH (peer dropped) or E_CLOSED. */
  requestObject(hash: ObjectHash, timeoutMs: number): Promise<Uint8Array> {
    if (this.isClosed) return Promise.reject(closedError());
    return this.objects.request(hash, timeoutMs);
  }

  stats(): WireStats {
    return {
      uploadedBytes: this.uploadedBytes,
      downloadedBytes: this.pieces.downloadedBytes,
      piecesServed: this.piecesServed,
      piecesReceived: this.pieces.piecesReceived,
      pieceMessages: this.pieceMessages,
      objectsServed: this.responder.objectsServed,
      requestsInFlight: this.pieces.inFlight,
      peerRequestsInFlight: this.wire.peerRequests.length,
      abuseCount: this.abuseCount,
    };
  }

  private abuse(reason: string): void {
    if (!this.isClosed) this.model.abuse(reason, ++this.abuseCount);
  }

  private send(m: ExtMessage): void {
    if (this.isClosed) return;
    const payload = encodeMessage(m);
    if (payload.length > this.maxMessageBytes) {
      throw ChunkswarmError.tooLarge(`chunkswarm ${m.type} message`, payload.length, this.maxMessageBytes);
    }
    if (this.isReady) this.wire.extended(EXTENSION_NAME, payload);
    else this.outbox.push(payload);
  }

  private sendSpace(): void {
    if (this.local) this.send({ type: 'space', release: this.local.release, have: this.local.have });
  }

  private listenToWire(): void {
    const w = this.wire;
    w.on('handshake', (_infoHash, peerId) => {
      this.remotePeerId = peerId;
    });
    w.on('extended', (ext) => ext === 'handshake' && this.onExtendedHandshake());
    w.on('have', (index) => this.onHave(index));
    w.on('request', (index, offset, length, respond) => this.responder.onRequest(index, offset, length, respond));
    w.on('piece', (index, offset, block) => {
      this.pieceMessages++;
      this.pieces.onPiece(index, offset, block);
    });
    w.on('upload', (bytes) => {
      this.uploadedBytes += bytes;
      this.piecesServed++;
    });
    w.on('choke', () => this.isClosed || this.model.choked(true));
    w.on('unchoke', () => this.isClosed || this.model.choked(false));
    w.on('interested', () => this.isClosed || this.model.interested(true));
    w.on('uninterested', () => this.isClosed || this.model.interested(false));
    w.on('error', (err) => this.shutdown(new ChunkswarmError('E_PROTOCOL', `peer wire failed: ${err.message}`, { cause: err })));
    w.on('close', () => this.shutdown(null));
  }

  private onExtendedHandshake(): void {
    if (this.isReady || this.isClosed) return;
    if (!this.wire.peerExtendedMapping[EXTENSION_NAME]) {
      this.fail('peer does not speak the chunkswarm extension');
      return;
    }
    this.isReady = true;
    this.objects.batching = this.wire.peerExtendedHandshake[OBJECT_BATCHES] === 1;
    this.ranges = this.wire.peerExtendedHandshake[PIECE_RANGES] === 1;
    this.takesUnchokers = this.wire.peerExtendedHandshake[UNCHOKERS] === 1;
    this.handshakeTimer?.cancel();
    this.sendSpace(); // carries every have() made before now
    for (const payload of this.outbox) this.wire.extended(EXTENSION_NAME, payload);
    this.outbox = [];
    this.settleReady();
    this.model.ready();
  }

  private onHave(index: number): void {
    if (this.isClosed) return;
    if (this.remote === null) {
      this.fail(`peer sent have(${index}) before announcing a release`);
    } else if (index >= this.remote.info.pieceCount) {
      this.fail(`peer sent have(${index}) outside its release of ${this.remote.info.pieceCount} pieces`);
    } else if (this.remote.have.set(index)) {
      this.model.have(index);
    }
  }

  private onExtMessage(payload: Uint8Array): void {
    if (this.isClosed) return;
    let m: ExtMessage;
    try {
      m = decodeMessage(payload, this.maxPieces);
    } catch (err) {
      this.fail((err as Error).message);
      return;
    }
    switch (m.type) {
      case 'head':
        this.model.head(m.release);
        break;
      case 'getObject':
        this.responder.onGetObject(m.id, m.hash, m.offset);
        break;
      case 'object':
        this.objects.onObject(m.id, m.total, m.offset, m.bytes);
        break;
      case 'noObject':
        this.objects.onNoObject(m.id);
        break;
      case 'getObjects':
        this.responder.onGetObjects(m.id, m.hashes);
        break;
      case 'objects':
        this.objects.onObjects(m.id, m.items);
        break;
      case 'space': {
        const moved = this.remote?.info.release !== m.release;
        this.remote = { info: { release: m.release, pieceCount: m.have.length }, have: m.have };
        // Indices now mean pieces of another space; answers to older requests must not be taken for them.
        if (moved) this.pieces.failAll(new ChunkswarmError('E_BUSY', `peer moved to release ${m.release}; pending piece requests dropped`));
        this.model.space(this.remote.info);
        break;
      }
      case 'status':
        this.model.status(m.status);
        break;
      case 'unchokers':
        this.model.unchokers(m.count);
        break;
      case 'getDrift':
        this.model.driftRequest?.(m.id, m.record);
        break;
      case 'drift':
        this.drifts.onDrift(m.id, m.bytes);
        break;
    }
  }

  private fail(reason: string): void {
    if (this.isClosed) return;
    this.shutdown(new ChunkswarmError('E_BAD_PEER', `peer ${this.remotePeerId ?? '(before handshake)'} dropped: ${reason}`));
  }

  private shutdown(reason: ChunkswarmError | null): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.handshakeTimer?.cancel();
    this.room.close();
    const closed = closedError(reason);
    this.pieces.failAll(closed);
    this.objects.failAll(closed);
    this.drifts.failAll(closed);
    this.settleReady(reason ?? closed);
    this.wire.destroy();
    this.stream.destroy();
    this.model.closed(reason);
  }
}

function closedError(reason: ChunkswarmError | null = null): ChunkswarmError {
  return new ChunkswarmError('E_CLOSED', reason ? `connection to peer closed: ${reason.message}` : 'connection to peer closed');
}
