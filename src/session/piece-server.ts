import type { ObjectHash, ReleaseId } from '../core/index.js';
import type { ObjectStore, ChunkIndex } from '../store/index.js';
import type { Piece } from '../manifest/index.js';
import type { WireStore } from '../wire/index.js';

/**
 * Reads one piece of a release's piece space, re-hashed; null if this node cannot serve it. The
 * bytes go into `alloc(size)` if the caller gives one (WireStore.readPiece).
 */
export type PieceReader = (index: number, alloc?: (size: number) => Uint8Array) => Promise<Uint8Array | null>;

/**
 * What this node serves to peers: objects from the object store and pieces of the release spaces it
 * holds — the one being staged (read back from staging) and retained releases (read from their
 * files through the chunk index). Every piece is re-hashed on the way out by those readers.
 */
export class PieceServer implements WireStore {
  private readonly spaces = new Map<ReleaseId, PieceReader>();

  constructor(
    private readonly objects: ObjectStore,
    private readonly chunkIndex: ChunkIndex,
  ) {}

  serve(release: ReleaseId, reader: PieceReader): void {
    this.spaces.set(release, reader);
  }

  /** A retained, materialized release served straight from its files, chunk by chunk. */
  serveRelease(release: ReleaseId, pieces: readonly Piece[]): void {
    this.serve(release, async (i, alloc) => {
      const p = pieces[i];
      if (!p) return null;
      // One buffer per piece, each chunk read straight into its place: no per-chunk buffers to join.
      const out = alloc ? alloc(p.size) : Buffer.allocUnsafe(p.size);
      let at = 0;
      for (const c of p.chunks) {
        if (!(await this.chunkIndex.readChunk(c.hash, out.subarray(at, (at += c.size))))) return null;
      }
      return out;
    });
  }

  drop(release: ReleaseId): void {
    this.spaces.delete(release);
  }

  getObject(hash: ObjectHash): Promise<Uint8Array | null> {
    return this.objects.getBytes(hash).catch(() => null);
  }

  async readPiece(space: ReleaseId, index: number, alloc?: (size: number) => Uint8Array): Promise<Uint8Array | null> {
    const reader = this.spaces.get(space);
    return reader ? reader(index, alloc) : null;
  }
}
