import type { PieceSet } from './types.js';

export function bitfieldHas(bits: Uint8Array, index: number): boolean {
  return ((bits[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
}

/** The BitTorrent wire form of a piece set, spare bits zero. */
export function toBitfield(count: number, has: (index: number) => boolean): Uint8Array {
  const bits = new Uint8Array(Math.ceil(count / 8));
  for (let i = 0; i < count; i++) {
    if (has(i)) bits[i >> 3] = (bits[i >> 3] ?? 0) | (0x80 >> (i & 7));
  }
  return bits;
}

export function isPieceIndex(index: number, count: number): boolean {
  return Number.isInteger(index) && index >= 0 && index < count;
}

/**
 * The indexes of a piece set. A bitfield's spare bits are ignored (some clients leave garbage
 * there); a listed index outside 0..count-1 is a protocol violation and is returned as `bad`.
 */
export function piecesOf(set: PieceSet, count: number): { pieces: number[]; bad?: number } {
  const pieces: number[] = [];
  if (set instanceof Uint8Array) {
    for (let i = 0; i < count; i++) if (bitfieldHas(set, i)) pieces.push(i);
    return { pieces };
  }
  for (const i of set) {
    if (!isPieceIndex(i, count)) return { pieces, bad: i };
    pieces.push(i);
  }
  return { pieces };
}
