import { ChunkswarmError } from './errors.js';

/*
 * The one bitfield of chunkswarm: which pieces of a piece space a node holds, on the wire, in the
 * scheduler and in a staging area's progress record. BitTorrent bit order: piece i is bit
 * 0x80 >> (i % 8) of byte i >> 3.
 */

/** Bytes of a bitfield of `count` pieces. */
export function bitfieldBytes(count: number): Uint8Array {
  return new Uint8Array(Math.ceil(count / 8));
}

/** Bit i of raw bitfield bytes; false past the end. */
export function getBit(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0;
}

/** Sets or clears bit i of raw bitfield bytes (i must be inside them). */
export function setBit(bits: Uint8Array, i: number, on: boolean): void {
  if (on) bits[i >> 3]! |= 0x80 >> (i & 7);
  else bits[i >> 3]! &= ~(0x80 >> (i & 7));
}

/** Set bits of raw bitfield bytes. */
export function countBits(bits: Uint8Array): number {
  let n = 0;
  for (const byte of bits) for (let b = byte; b !== 0; b &= b - 1) n++;
  return n;
}

/** A bitfield that knows its piece count. Bits past `length` are always zero, so two bitfields of the same pieces are byte-equal. */
export class Bitfield {
  readonly length: number;
  readonly bytes: Uint8Array;

  constructor(length: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new ChunkswarmError('E_PROTOCOL', `bitfield length ${length} is not a non-negative integer`);
    }
    const size = Math.ceil(length / 8);
    if (bytes === undefined) {
      this.bytes = bitfieldBytes(length);
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
    return Number.isInteger(index) && index >= 0 && index < this.length && getBit(this.bytes, index);
  }

  /** Sets a bit; returns true if it was not set before. */
  set(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new ChunkswarmError('E_PROTOCOL', `piece ${index} is outside a bitfield of ${this.length} pieces`);
    }
    if (getBit(this.bytes, index)) return false;
    setBit(this.bytes, index, true);
    return true;
  }

  count(): number {
    return countBits(this.bytes);
  }

  clone(): Bitfield {
    return new Bitfield(this.length, this.bytes);
  }
}
