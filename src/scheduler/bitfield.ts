import { bitfieldBytes, getBit, setBit } from '../core/index.js';
import type { PieceSet } from './types.js';

export { getBit as bitfieldHas };

/** The BitTorrent wire form of a piece set, spare bits zero. */
export function toBitfield(count: number, has: (index: number) => boolean): Uint8Array {
  const bits = bitfieldBytes(count);
  for (let i = 0; i < count; i++) if (has(i)) setBit(bits, i, true);
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
    for (let i = 0; i < count; i++) if (getBit(set, i)) pieces.push(i);
    return { pieces };
  }
  for (const i of set) {
    if (!isPieceIndex(i, count)) return { pieces, bad: i };
    pieces.push(i);
  }
  return { pieces };
}
