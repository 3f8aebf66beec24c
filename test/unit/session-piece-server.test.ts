import { describe, expect, it } from 'vitest';
import { PieceServer } from '../../src/session/piece-server.js';
import type { ChunkIndex, ObjectStore } from '../../src/store/index.js';
import type { ReleaseId } from '../../src/core/index.js';

const id = (n: number) => `release-${n}` as ReleaseId;

describe('piece server', () => {
  it('keeps the two spaces served last: a node serving for months does not hold every release it had', async () => {
    const server = new PieceServer({} as ObjectStore, {} as ChunkIndex);
    for (const n of [1, 2, 3]) server.serve(id(n), async (i) => Uint8Array.of(n, i));
    expect(server.served()).toEqual([id(2), id(3)]);
    expect(await server.readPiece(id(1), 0)).toBeNull();
    expect(await server.readPiece(id(2), 7)).toEqual(Uint8Array.of(2, 7));
    // Served again (the whole release after its staging): it becomes the newest, the other stays.
    server.serve(id(2), async (i) => Uint8Array.of(20, i));
    expect(server.served()).toEqual([id(3), id(2)]);
    expect(await server.readPiece(id(2), 1)).toEqual(Uint8Array.of(20, 1));
    server.serve(id(4), async () => null);
    expect(server.served()).toEqual([id(2), id(4)]);
  });
});
