import type Wire from 'bittorrent-protocol';
import type { WireRespond } from 'bittorrent-protocol';
import { ChunkswarmError, type ObjectHash, type ReleaseId, type Bitfield } from '../core/index.js';
import type { PieceRange } from '../manifest/index.js';
import type { ExtMessage } from './messages.js';
import type { SendRoom } from './send-room.js';
import type { WireModel } from './types.js';

/** Our current piece space. */
export interface LocalSpace {
  release: ReleaseId;
  have: Bitfield;
}

/** What the responder works with: the connection's parts, as PeerWire hands them over. */
export interface ResponderContext {
  /** The library's wire; its `peerRequests` are the peer's piece requests not yet answered. */
  wire: Wire;
  /** Where pieces and objects are read, and uploads allowed. */
  model: WireModel;
  /** Piece answers on their way to this peer. */
  room: SendRoom;
  limits: { maxOutstanding: number; maxPieceBytes: number; maxMessageBytes: number };
  space(): LocalSpace | null;
  isClosed(): boolean;
  send(m: ExtMessage): void;
  /** A buffer for a piece's bytes, lent by the connection until they are copied into their record (StreamLink.pieceBody). */
  pieceBody(size: number): Uint8Array;
  /** The peer exceeded a limit. */
  abuse(reason: string): void;
}

// With BEP-6 on, answering the library's respond() with an error sends a reject.
/** Type byte, request id, total and offset (see messages.ts). */
const OBJECT_HEADER_BYTES = 13;
/** Type byte, message id and item count of an objects answer; then each item's length before its bytes. */
const OBJECTS_HEADER_BYTES = 7;
const OBJECT_ITEM_BYTES = 4;
/** Parts of a large object stay well below the message limit, so they interleave with pieces. */
const OBJECT_PART_BYTES = 4 << 20;
const DECLINE = new Error('declined');

/** Answers one peer's piece and object requests from the store, within the per-peer limits. */
export class Responder {
  private objectsInFlight = 0;
  objectsServed = 0;

  constructor(private readonly d: ResponderContext) {}

  /** Called by the library after it queued the request in `wire.peerRequests` (a choked peer's never get here). */
  onRequest(index: number, offset: number, length: number, respond: WireRespond): void {
    const { wire, limits } = this.d;
    if (wire.peerRequests.length + this.objectsInFlight > limits.maxOutstanding) {
      this.d.abuse(`more than ${limits.maxOutstanding} requests outstanding`);
      respond(DECLINE);
      return;
    }
    // Out of range or a size that does not match is usually a request the peer sent before it
    // heard of our new space: declined, and reported like other abuse so that the session can
    // tell a few of those from a flood of requests for pieces we never offered.
    const space = this.d.space();
    if (space === null || length < 1 || offset + length > limits.maxPieceBytes || !space.have.get(index)) {
      this.d.abuse(`asked for piece ${index} (${length} bytes at ${offset}), which we do not offer`);
      respond(DECLINE);
      return;
    }
    void this.servePiece(space, index, { offset, length }, respond);
  }

  onGetObject(id: number, hash: ObjectHash, offset: number): void {
    const { wire, limits } = this.d;
    if (wire.peerRequests.length + this.objectsInFlight >= limits.maxOutstanding) {
      this.d.abuse(`more than ${limits.maxOutstanding} requests outstanding`);
      // Told at once, the peer asks another holder; silence would cost it a whole request timeout.
      this.d.send({ type: 'noObject', id });
      return;
    }
    void this.serveObject(id, hash, offset);
  }

  /** A batch counts as one request outstanding: it is at most MAX_BATCH_OBJECTS reads, answered in one message. */
  onGetObjects(id: number, hashes: readonly ObjectHash[]): void {
    const { wire, limits } = this.d;
    if (wire.peerRequests.length + this.objectsInFlight >= limits.maxOutstanding) {
      this.d.abuse(`more than ${limits.maxOutstanding} requests outstanding`);
      this.d.send({ type: 'objects', id, items: hashes.map(() => null) });
      return;
    }
    void this.serveObjects(id, hashes);
  }

  /** A whole piece, or the part of it asked for (`range`): only its chunks are read. */
  private async servePiece(space: LocalSpace, index: number, range: PieceRange, respond: WireRespond): Promise<void> {
    const { length } = range;
    const { room, model, wire } = this.d;
    // A request stays outstanding (and counts against the peer's limit) until the answers before
    // it have left: a peer asking faster than its rate limit lets it receive gets declined and
    // counted as abuse, instead of making us read, hash and queue pieces without bound.
    await room.take(length);
    let sent = false;
    try {
      if (this.d.isClosed()) return;
      if (!(await model.allowUpload(index, length))) {
        respond(DECLINE);
        return;
      }
      const bytes = await model.readPiece(space.release, index, (size) => this.d.pieceBody(size), range);
      // After a space switch the peer drops and cancels its old requests; answering would only race.
      if (this.d.isClosed() || this.d.space()?.release !== space.release) return;
      if (bytes === null) model.unreadable?.(index);
      if (bytes === null || bytes.length !== length) return respond(DECLINE);
      const before = wire.uploaded;
      respond(null, bytes);
      // Not queued if the peer cancelled meanwhile; queued bytes free their room once sent.
      sent = wire.uploaded > before;
    } catch (err) {
      if (this.d.isClosed()) return;
      model.error(ChunkswarmError.fromSystem(err, `reading piece ${index} of release ${space.release} for a peer`));
      model.unreadable?.(index);
      respond(DECLINE);
    } finally {
      if (!sent) room.give(length);
    }
  }

  /**
   * The objects asked, in order, as many as one message holds: the peer asks for the rest again
   * (and for an object too large to share a message, alone, in parts).
   */
  private async serveObjects(id: number, hashes: readonly ObjectHash[]): Promise<void> {
    this.objectsInFlight++;
    const items: Array<Uint8Array | null> = [];
    let room = Math.min(OBJECT_PART_BYTES, this.d.limits.maxMessageBytes) - OBJECTS_HEADER_BYTES;
    try {
      for (const hash of hashes) {
        const bytes = await this.readObject(hash);
        room -= OBJECT_ITEM_BYTES + (bytes?.length ?? 0);
        if (room < 0) break;
        items.push(bytes);
        if (bytes !== null) this.objectsServed++;
      }
    } finally {
      this.objectsInFlight--;
    }
    if (!this.d.isClosed()) this.d.send({ type: 'objects', id, items });
  }

  /** One part of an object: as much from `offset` as one message holds (a large tree takes several). */
  private async serveObject(id: number, hash: ObjectHash, offset: number): Promise<void> {
    this.objectsInFlight++;
    let bytes: Uint8Array | null;
    try {
      bytes = await this.readObject(hash);
    } finally {
      this.objectsInFlight--;
    }
    if (this.d.isClosed()) return;
    if (bytes === null || offset > bytes.length || (offset === bytes.length && offset > 0)) {
      this.d.send({ type: 'noObject', id });
      return;
    }
    if (offset === 0) this.objectsServed++;
    const part = bytes.subarray(offset, offset + Math.min(OBJECT_PART_BYTES, this.d.limits.maxMessageBytes - OBJECT_HEADER_BYTES));
    this.d.send({ type: 'object', id, total: bytes.length, offset, bytes: part });
  }

  /** An object's bytes for a peer, or null if absent or unreadable (the failure goes to the model). */
  private async readObject(hash: ObjectHash): Promise<Uint8Array | null> {
    try {
      return await this.d.model.getObject(hash);
    } catch (err) {
      if (!this.d.isClosed()) this.d.model.error(ChunkswarmError.fromSystem(err, `reading object ${hash} for a peer`));
      return null;
    }
  }
}
