import { describe, expect, it } from 'vitest';
import { asChunkHash } from '../../src/core/index.js';
import { rangeFits, readPieceRange, type Piece } from '../../src/manifest/index.js';

/** A piece of chunks of the given sizes; chunk j's bytes are j+1 repeated. */
function pieceOf(sizes: number[]): { piece: Piece; bytes: Buffer } {
  const chunks = sizes.map((size, j) => ({ hash: asChunkHash(String(j).padStart(64, '0')), size }));
  const bytes = Buffer.concat(sizes.map((size, j) => Buffer.alloc(size, j + 1)));
  return { piece: { size: bytes.length, chunks }, bytes };
}

describe('readPieceRange', () => {
  it('reads every range of a piece, whole chunks only, and only the chunks the range overlaps', async () => {
    const { piece, bytes } = pieceOf([3, 1, 4, 2]);
    for (let offset = 0; offset < piece.size; offset++) {
      for (let length = 1; offset + length <= piece.size; length++) {
        const read: number[] = [];
        const out = Buffer.alloc(length);
        const ok = await readPieceRange(piece, { offset, length }, out, (j, into) => {
          expect(into.length).toBe(piece.chunks[j]!.size);
          read.push(j);
          into.set(bytes.subarray(...spanOf(piece, j)));
          return true;
        });
        expect(ok).toBe(true);
        expect(out.equals(bytes.subarray(offset, offset + length))).toBe(true);
        const overlapped = piece.chunks.map((_c, j) => j).filter((j) => {
          const [start, end] = spanOf(piece, j);
          return start < offset + length && end > offset;
        });
        expect(read).toEqual(overlapped);
      }
    }
  });

  it('fails when a chunk cannot be read, or the range does not fit the piece', async () => {
    const { piece } = pieceOf([3, 1, 4, 2]);
    expect(await readPieceRange(piece, { offset: 2, length: 4 }, Buffer.alloc(4), (j) => j !== 2)).toBe(false);
    expect(await readPieceRange(piece, { offset: 2, length: 4 }, Buffer.alloc(4), async (j) => j !== 2)).toBe(false);
    // A reader that answers later (a retained release's, through the chunk index) reads the same.
    const { bytes } = pieceOf([3, 1, 4, 2]);
    const out = Buffer.alloc(6);
    const later = async (j: number, into: Uint8Array) => {
      await new Promise((r) => setImmediate(r));
      into.set(bytes.subarray(...spanOf(piece, j)));
      return true;
    };
    expect(await readPieceRange(piece, { offset: 2, length: 6 }, out, later)).toBe(true);
    expect(out.equals(bytes.subarray(2, 8))).toBe(true);
    for (const r of [{ offset: 9, length: 2 }, { offset: -1, length: 2 }, { offset: 0, length: 0 }, { offset: 0.5, length: 1 }]) {
      expect(rangeFits(piece, r)).toBe(false);
      expect(await readPieceRange(piece, r, Buffer.alloc(Math.max(0, r.length)), () => true)).toBe(false);
    }
    expect(rangeFits(piece, { offset: 0, length: 10 })).toBe(true);
  });
});

function spanOf(piece: Piece, j: number): [number, number] {
  const start = piece.chunks.slice(0, j).reduce((n, c) => n + c.size, 0);
  return [start, start + piece.chunks[j]!.size];
}
