import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { asChunkHash } from '../../src/core/index.js';
import { newContentPieces, type ChunkRef, type Piece } from '../../src/manifest/index.js';

const chunk = (name: string): ChunkRef => ({ hash: asChunkHash(createHash('sha256').update(name).digest('hex')), size: 10 });
const piece = (...names: string[]): Piece => ({ size: 10 * names.length, chunks: names.map(chunk) });

describe('newContentPieces', () => {
  it('marks the pieces holding a chunk the release before did not have, wherever its pieces cut', () => {
    const previous = [piece('a', 'b'), piece('c')];
    // The same old chunks grouped differently are old content; one new chunk makes the piece new.
    const now = [piece('c', 'a'), piece('b', 'x'), piece('y'), piece('b')];
    expect([...newContentPieces(now, previous)]).toEqual([0, 1, 1, 0]);
  });

  it('marks every piece new against an empty release', () => {
    expect([...newContentPieces([piece('a'), piece('b')], [])]).toEqual([1, 1]);
  });
});
