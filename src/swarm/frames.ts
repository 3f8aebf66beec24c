import { ChunkswarmError } from '../core/index.js';

/**
 * Framing of an authenticated connection. hyperswarm streams (UDX underneath) have no receive-side
 * flow control: a receiver that stops reading keeps buffering whatever arrives. So the sender may
 * only send bytes the receiver has granted (CREDIT), which bounds the receiver's memory and lets a
 * paused or rate-limited reader slow the sender down.
 *
 *   DATA   = 0x00, u32 BE length, payload (at most MAX_FRAME_PAYLOAD bytes)
 *   CREDIT = 0x01, u32 BE bytes the sender of this frame is ready to receive on top of earlier grants
 */
const DATA = 0;
const CREDIT = 1;
export const FRAME_HEADER_BYTES = 5;
export const MAX_FRAME_PAYLOAD = 64 * 1024;

export function dataHeader(length: number): Buffer {
  return header(DATA, length);
}

/** Writes a DATA header for `length` payload bytes at the start of `out`. */
export function writeDataHeader(out: Buffer, length: number): void {
  out[0] = DATA;
  out.writeUInt32BE(length, 1);
}

export function creditFrame(bytes: number): Buffer {
  return header(CREDIT, bytes);
}

function header(type: number, value: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h[0] = type;
  h.writeUInt32BE(value, 1);
  return h;
}

export interface FrameSink {
  /** A piece of a DATA payload; a frame's payload may arrive in several pieces. */
  data(piece: Buffer): void;
  credit(bytes: number): void;
}

/** Incremental parser: payload bytes are passed on as slices of the input, never copied. */
export class FrameReader {
  private readonly head = Buffer.alloc(FRAME_HEADER_BYTES);
  private headFill = 0;
  private payloadLeft = 0;

  /** True if the input so far stops inside a frame (an end of stream here is a truncation). */
  get midFrame(): boolean {
    return this.headFill > 0 || this.payloadLeft > 0;
  }

  /** Throws E_PROTOCOL on a frame no chunkswarm node sends. */
  feed(chunk: Buffer, sink: FrameSink): void {
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.byteLength - at);
        this.payloadLeft -= n;
        sink.data(chunk.subarray(at, at + n));
        at += n;
        continue;
      }
      const n = Math.min(FRAME_HEADER_BYTES - this.headFill, chunk.byteLength - at);
      chunk.copy(this.head, this.headFill, at, at + n);
      this.headFill += n;
      at += n;
      if (this.headFill < FRAME_HEADER_BYTES) break;
      this.headFill = 0;
      const value = this.head.readUInt32BE(1);
      if (this.head[0] === CREDIT) sink.credit(value);
      else if (this.head[0] === DATA && value > 0 && value <= MAX_FRAME_PAYLOAD) this.payloadLeft = value;
      else throw new ChunkswarmError('E_PROTOCOL', `peer sent an invalid frame (type ${this.head[0]}, value ${value})`);
    }
  }
}
