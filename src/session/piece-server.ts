import type { ObjectHash, ReleaseId } from '../core/index.js';
import type { ObjectStore, ChunkIndex } from '../store/index.js';
import { readPieceRange, wholePiece, type Piece, type PieceRange } from '../manifest/index.js';
import type { WireStore } from '../wire/index.js';

/** The current space and the one before: peers still finishing the previous release keep their source. */
const MAX_SPACES = 2;

/**
 * Reads one piece of a release's piece space, or `range` of it, re-hashed; null if this node
 * cannot serve it. The bytes go into `alloc(size)` if the caller gives one (WireStore.readPiece).
 */
export type PieceReader = (index: number, alloc?: (size: number) => Uint8Array, range?: PieceRange) => Promise<Uint8Array | null>;

/**
 * What this node serves to peers: objects from the object store and pieces of the release spaces it
 * holds — the one being staged (read back from staging) and retained releases (read from their
 * files through the chunk index). Every piece is re-hashed on the way out by those readers.
 */
export class PieceServer implements WireStore {
  /** Most recently served last. */
  private readonly spaces = new Map<ReleaseId, PieceReader>();

  constructor(
    private readonly objects: ObjectStore,
    private readonly chunkIndex: ChunkIndex,
  ) {}

  /**
   * Serves a release's piece space from now on. Only the newest MAX_SPACES spaces served stay:
   * a node announces one space at a time and peers move to the newest release with it, while
   * each space holds its piece list (10^5 chunks at 10^5 files), which a node serving for months
   * would otherwise keep for every release it ever had.
   */
  serve(release: ReleaseId, reader: PieceReader): void {
    this.spaces.delete(release);
    this.spaces.set(release, reader);
    for (const old of this.spaces.keys()) {
      if (this.spaces.size <= MAX_SPACES) break;
      this.spaces.delete(old);
    }
  }

  /** A retained, materialized release served straight from its files, chunk by chunk. */
  serveRelease(release: ReleaseId, pieces: readonly Piece[]): void {
    this.serve(release, async (i, alloc, range) => {
      const p = pieces[i];
      if (!p) return null;
      const r = range ?? wholePiece(p);
      // One buffer per answer, each chunk read straight into its place: no per-chunk buffers to join.
      const out = alloc ? alloc(r.length) : Buffer.allocUnsafe(r.length);
      return (await readPieceRange(p, r, out, async (j, into) => (await this.chunkIndex.readChunk(p.chunks[j]!.hash, into)) !== null)) ? out : null;
    });
  }

  getObject(hash: ObjectHash): Promise<Uint8Array | null> {
    return this.objects.getBytes(hash).catch(() => null);
  }

  async readPiece(space: ReleaseId, index: number, alloc?: (size: number) => Uint8Array, range?: PieceRange): Promise<Uint8Array | null> {
    const reader = this.spaces.get(space);
    return reader ? reader(index, alloc, range) : null;
  }
}
