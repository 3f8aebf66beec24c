import { constants } from 'node:fs';
import { BytesCache, recordBuffers } from '../core/index.js';
import { readPieceRange, type ChunkRef, type Piece, type PieceRange } from '../manifest/index.js';
import { OpenFiles } from '../store/index.js';
import type { PieceLayout } from './plan.js';
import { readVerified } from './stage-fs.js';

/** Memory for the pieces received lately, served from there while staging. */
const RECEIVED_PIECE_BYTES = 16 << 20;

/**
 * A release's pieces read back for peers, while it is staged and once it is a release. Pieces
 * received lately are served as they were verified on arrival: peers ask a node for what it has
 * just received (in the demo 9 reads in 10 came within 8 MB of receiving), and each read from the
 * file was a read and a re-hash of every byte, a quarter of what serving a piece costs. Any other
 * piece is read chunk by chunk from a file of the tree that holds it, and hashed again.
 */
export class PieceReader {
  /** A piece received into a pooled record buffer goes back to the pool when it leaves (recordBuffers). */
  private readonly received = new BytesCache<number>(RECEIVED_PIECE_BYTES, { dropped: (bytes) => recordBuffers.giveBack(bytes) });
  /**
   * The staged files pieces are read from stay open between flushes; a release's files are opened
   * per read, as a release may be served for months.
   */
  private readonly files = new OpenFiles(constants.O_RDONLY | constants.O_NOFOLLOW);

  /** `staging`: the tree is still being staged, not a release yet. */
  constructor(
    private readonly layout: PieceLayout,
    private staging: boolean,
  ) {}

  /** Piece `index`, received whole and verified: the reader holds the bytes from now on. */
  receivedWhole(index: number, bytes: Uint8Array): void {
    if (this.staging) this.received.set(index, bytes);
    else recordBuffers.giveBack(bytes);
  }

  /**
   * `range` of piece `index` of the tree in `dir`, into `out` if read from the files; null if a
   * chunk of it is in no file of the tree as it should be. Bytes received lately are returned as
   * they are kept, never to be written to; those in a pooled record buffer are copied into `out`,
   * as the buffer goes back to the pool when they leave the cache, maybe while a view of them is
   * still on its way to a peer.
   */
  async read(dir: string, index: number, piece: Piece, range: PieceRange, out: () => Uint8Array): Promise<Uint8Array | null> {
    const kept = this.received.get(index);
    if (kept) {
      const part = kept.subarray(range.offset, range.offset + range.length);
      if (recordBuffers.bufferOf(kept) === undefined) return part;
      const copy = out();
      copy.set(part);
      return copy;
    }
    const into = out();
    // Each chunk read straight into its place: no per-chunk buffers to join.
    const first = this.layout.first(index);
    return (await readPieceRange(piece, range, into, (j, at) => this.chunk(dir, first + j, piece.chunks[j]!, at) !== null)) ? into : null;
  }

  /** Closes the staged files read from (their descriptors must not outlive a flush). */
  closeFiles(): void {
    this.files.dropAll();
  }

  /** The tree is a release now: its pieces come from its files from now on. */
  released(): void {
    this.staging = false;
    this.files.dropAll();
    this.received.clear();
  }

  /** A chunk's bytes from the tree (a written copy, or a linked file), verified. */
  private chunk(dir: string, k: number, c: ChunkRef, into: Uint8Array): Uint8Array | null {
    const linked = this.layout.linked(k);
    const files = this.staging ? this.files : undefined;
    for (const s of [...this.layout.writes(k), ...(linked ? [linked] : [])]) {
      const bytes = readVerified(`${dir}/${s.path}`, s.offset, c.size, c.hash, { files, into });
      if (bytes) return bytes;
    }
    return null;
  }
}
