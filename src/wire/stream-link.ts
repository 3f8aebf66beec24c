import type Wire from 'bittorrent-protocol';
import type { WireExtension } from 'bittorrent-protocol';
import { BufferPool, ChunkswarmError, recordBuffers } from '../core/index.js';
import type { FrameGuard } from './frame-guard.js';
import type { WireStream } from './types.js';

export const EXTENSION_NAME = 'chunkswarm';

const HANDSHAKE_BYTES = 68;
/** Messages up to this size (haves, requests, cancels, small extension messages) go out in batches. */
const SMALL_MESSAGE_BYTES = 1024;
/** A batch goes out at the latest when it holds this much. */
const BATCH_BYTES = 16 * 1024;
/**
 * Or this many messages: a window of object requests (fetchObjects) answered in one batch and
 * asked again in one batch would keep the two ends in lockstep, each idle while the other works.
 */
const BATCH_MESSAGES = 16;
const PIECE_ID = 7;
/** A piece message's length prefix, id, index and offset. */
const PIECE_HEADER_BYTES = 13;

export interface LinkEvents {
  /** The inbound bytes broke the framing rules; nothing more is fed to the wire. */
  problem(reason: string): void;
  /** The stream ended, closed or failed. */
  ended(err: ChunkswarmError | null): void;
  isClosed(): boolean;
  /** Piece payload bytes the stream has taken (see SendRoom). */
  pieceBytesSent(bytes: number): void;
}

/**
 * Joins the peer's stream and the library's wire. Inbound bytes pass the FrameGuard, which hands
 * the wire whole messages. Outbound, the library pushes a message as a header and a body: on a
 * stream that encrypts in place (a NoiseSecretStream's alloc()) the two are joined into one write,
 * so that each message is one encrypted record, encrypted without a further copy, and reaches the
 * peer's guard as one chunk. Small messages written in one turn of the event loop (the requests
 * and haves that the pieces read from the socket in that turn set off) go out as one record at
 * its end (setImmediate): one encryption and one system call instead of one each. A microtask
 * would end the batch after each 64 KiB the socket delivers, i.e. about once per piece. Both
 * directions pause on backpressure. A piece is read into a buffer that pieceBody lends and that
 * comes back once the piece is copied into its record: a piece served costs at most one fresh
 * buffer (the record; none on the direct path, whose records are pooled too: TcpSecretStream).
 */
export class StreamLink {
  private handshakeSent = false;
  /** The outbound message being joined: its parts so far, and the bytes it still lacks. */
  private parts: Uint8Array[] = [];
  private missing = 0;
  /** Piece payload bytes written while the stream was full, taken once it drains. */
  private unsentPieceBytes = 0;
  /** Small messages waiting for the end of this turn of the event loop to go out together. */
  private batch: Uint8Array[] = [];
  private batchBytes = 0;

  constructor(
    private readonly stream: WireStream,
    private readonly wire: Wire,
    private readonly guard: FrameGuard,
    private readonly on: LinkEvents,
  ) {
    stream.on('data', (chunk: unknown) => this.inbound(chunk));
    wire.on('drain', () => stream.resume());
    wire.on('data', (data) => this.outbound(data));
    stream.on('drain', () => {
      const sent = this.unsentPieceBytes;
      this.unsentPieceBytes = 0;
      if (sent > 0) on.pieceBytesSent(sent);
      wire.resume();
    });
    stream.on('end', () => on.ended(null));
    stream.on('close', () => on.ended(null));
    stream.on('error', (err) => on.ended(ChunkswarmError.fromSystem(err, 'connection to peer')));
    // A stream paused by an earlier reader (the swarm's handshakes) flows again.
    stream.resume();
  }

  /**
   * A buffer of `size` bytes to read a piece's payload into before handing it to the wire. On a
   * stream that encrypts in place the body is copied into its record as it goes out (flushJoined),
   * and the buffer goes back to the spares then. Reading into the record itself would save that
   * copy but not the allocation, and is undone by the stream: a NoiseSecretStream encrypts in
   * place only the buffer of its latest alloc(), and pieces served together interleave theirs.
   * A fresh buffer costs more than the copy (page faults, then GC of the memory behind it).
   */
  pieceBody(size: number): Uint8Array {
    if (!this.stream.alloc) return Buffer.allocUnsafe(size);
    return spares.lend(size);
  }

  private inbound(chunk: unknown): void {
    if (this.on.isClosed()) return;
    if (!(chunk instanceof Uint8Array)) {
      this.on.ended(new ChunkswarmError('E_PROTOCOL', 'the connection delivered non-binary data (an object-mode stream?)'));
      return;
    }
    // A record that is one piece message: its payload is all anyone keeps of it (see recordBuffers).
    if (chunk.byteLength > PIECE_HEADER_BYTES && chunk[4] === PIECE_ID && readUInt32(chunk) + 4 === chunk.byteLength) {
      recordBuffers.narrow(chunk.subarray(PIECE_HEADER_BYTES));
    }
    let more = true;
    const problem = this.guard.feed(chunk, (message) => {
      more = this.wire.write(message) && more;
    });
    if (problem !== null) this.on.problem(problem);
    else if (!more) this.stream.pause();
  }

  private outbound(data: Uint8Array): void {
    if (this.on.isClosed()) return;
    if (this.missing > 0) {
      this.parts.push(data);
      this.missing -= data.byteLength;
      if (this.missing > 0) return;
      if (this.stream.alloc) return this.flushJoined();
      // Without alloc() the parts go as they come; the body is the piece's payload.
      const pieceBytes = this.parts.length === 2 ? this.pieceBytesIn(this.parts[0]!) : 0;
      this.parts = [];
      return this.write(data, pieceBytes);
    }
    const total = this.handshakeSent ? 4 + readUInt32(data) : HANDSHAKE_BYTES;
    this.handshakeSent = true;
    if (data.byteLength >= total) return this.write(data, this.pieceBytesIn(data));
    this.parts = [data];
    this.missing = total - data.byteLength;
    if (!this.stream.alloc) this.write(data, 0);
  }

  /** The payload bytes of a piece message, from its header (0 for any other message). */
  private pieceBytesIn(header: Uint8Array): number {
    return header.byteLength >= PIECE_HEADER_BYTES && header[4] === PIECE_ID ? 4 + readUInt32(header) - PIECE_HEADER_BYTES : 0;
  }

  private flushJoined(): void {
    let total = 0;
    for (const p of this.parts) total += p.byteLength;
    const out = this.stream.alloc!(total);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    const pieceBytes = this.pieceBytesIn(this.parts[0]!);
    if (this.parts.length === 2) spares.giveBack(this.parts[1]!);
    this.parts = [];
    this.write(out, pieceBytes);
  }

  private write(data: Uint8Array, pieceBytes: number): void {
    if (pieceBytes === 0 && data.byteLength <= SMALL_MESSAGE_BYTES) {
      if (this.batch.length === 0) setImmediate(() => this.flushBatch());
      this.batch.push(data);
      this.batchBytes += data.byteLength;
      if (this.batchBytes >= BATCH_BYTES || this.batch.length >= BATCH_MESSAGES) this.flushBatch();
      return;
    }
    this.flushBatch(); // what was written before goes first
    this.send(data, pieceBytes);
  }

  private flushBatch(): void {
    const parts = this.batch;
    if (parts.length === 0) return;
    this.batch = [];
    const total = this.batchBytes;
    this.batchBytes = 0;
    if (this.on.isClosed()) return;
    if (parts.length === 1) return this.send(parts[0]!, 0);
    const out = this.stream.alloc ? this.stream.alloc(total) : Buffer.allocUnsafe(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    this.send(out, 0);
  }

  private send(data: Uint8Array, pieceBytes: number): void {
    if (this.stream.write(data)) {
      if (pieceBytes > 0) this.on.pieceBytesSent(pieceBytes);
      return;
    }
    this.unsentPieceBytes += pieceBytes;
    this.wire.pause();
  }
}

/**
 * Piece buffers back from their records, shared by every link of the process; a few suffice (they
 * come back at once). Sizes are rounded up to a power of two, so that the pieces of a release,
 * whose sizes vary around its target, share buffers.
 */
const spares = new BufferPool(8, (bytes) => 2 ** Math.ceil(Math.log2(Math.max(bytes, 1))));

function readUInt32(b: Uint8Array): number {
  return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
}

/** The class `wire.use()` wants: the library reads the extension's name from its prototype. */
export function extensionClass(onMessage: (payload: Uint8Array) => void): new () => WireExtension {
  return class ChunkswarmExtension implements WireExtension {
    get name(): string {
      return EXTENSION_NAME;
    }
    onMessage(payload: Uint8Array): void {
      onMessage(payload);
    }
  };
}
