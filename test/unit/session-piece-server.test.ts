import { describe, expect, it } from 'vitest';
import { PieceServer } from '../../src/session/piece-server.js';
import type { ChunkIndex, ObjectStore } from '../../src/store/index.js';
import type { ReleaseId } from '../../src/core/index.js';

const id = (n: number) => `release-${n}` as ReleaseId;

describe('piece server', () => {
  it('keeps the two spaces served last: a node serving for months does not hold every release it had', async () => {
    const server = new PieceServer({} as ObjectStore, {} as ChunkIndex);
    /** The spaces (by number) that still answer. */
    const served = async () => {
      const out: number[] = [];
      for (const n of [1, 2, 3, 4]) if (await server.readPiece(id(n), 0)) out.push(n);
      return out;
    };
    for (const n of [1, 2, 3]) server.serve(id(n), async (i) => Uint8Array.of(n, i));
    expect(await served()).toEqual([2, 3]);
    expect(await server.readPiece(id(1), 0)).toBeNull();
    expect(await server.readPiece(id(2), 7)).toEqual(Uint8Array.of(2, 7));
    // Served again (the whole release after its staging): it becomes the newest, the other stays.
    server.serve(id(2), async (i) => Uint8Array.of(20, i));
    expect(await served()).toEqual([2, 3]);
    expect(await server.readPiece(id(2), 1)).toEqual(Uint8Array.of(20, 1));
    // So a fourth space pushes out 3, not 2.
    server.serve(id(4), async (i) => Uint8Array.of(4, i));
    expect(await served()).toEqual([2, 4]);
  });
});
