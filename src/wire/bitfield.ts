import { ChunkswarmError } from '../core/index.js';

/**
 * Which pieces of one piece space a node has. BitTorrent bit order: piece 0 is the high bit of
 * byte 0. Bits past `length` are always zero, so two bitfields of the same pieces are byte-equal.
 */
export class Bitfield {
  readonly length: number;
  readonly bytes: Uint8Array;

  constructor(length: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new ChunkswarmError('E_PROTOCOL', `bitfield length ${length} is not a non-negative integer`);
    }
    const size = Math.ceil(length / 8);
    if (bytes === undefined) {
      this.bytes = new Uint8Array(size);
    } else {
      if (bytes.length !== size) {
        throw new ChunkswarmError('E_PROTOCOL', `bitfield of ${bytes.length} bytes does not fit ${length} pieces (needs ${size})`);
      }
      const spare = length % 8 === 0 ? 0 : 0xff >> (length % 8);
      if (size > 0 && (bytes[size - 1]! & spare) !== 0) {
        throw new ChunkswarmError('E_PROTOCOL', `bitfield has bits set past its ${length} pieces`);
      }
      this.bytes = Uint8Array.from(bytes);
    }
    this.length = length;
  }

  static full(length: number): Bitfield {
    const b = new Bitfield(length);
    b.bytes.fill(0xff);
    if (length % 8 !== 0) b.bytes[b.bytes.length - 1] = (0xff << (8 - (length % 8))) & 0xff;
    return b;
  }

  get(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return false;
    return (this.bytes[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }

  /** Sets a bit; returns true if it was not set before. */
  set(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new ChunkswarmError('E_PROTOCOL', `piece ${index} is outside a bitfield of ${this.length} pieces`);
    }
    const mask = 0x80 >> (index & 7);
    const byte = this.bytes[index >> 3]!;
    if ((byte & mask) !== 0) return false;
    this.bytes[index >> 3] = byte | mask;
    return true;
  }

  count(): number {
    let n = 0;
    for (const byte of this.bytes) {
      let b = byte;
      while (b !== 0) {
        b &= b - 1;
        n++;
      }
    }
    return n;
  }

  clone(): Bitfield {
    return new Bitfield(this.length, this.bytes);
  }
}
