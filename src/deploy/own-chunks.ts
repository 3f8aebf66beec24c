import { closeSync, constants, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { ChunkRef, Piece } from '../manifest/index.js';
import { OpenFiles } from '../store/index.js';
import type { PieceLayout } from './plan.js';
import { readVerified } from './stage-fs.js';

/** A never-written slot of a preallocated file starts with zeros; salvage skips it without hashing. */
const PROBE_BYTES = 4096;

/**
 * The chunks of a release that this node holds already, read from its own files and verified: the
 * linked files of the tree being staged in `dir`, clean files of its other releases, and what a
 * killed run wrote into the tree.
 */
export class OwnChunks {
  /**
   * Files this node copies chunks from (its other releases, the tree's linked files): one open per
   * file, not per chunk (a 300 MB file edited in one place is ~4,000 chunks copied, and an open
   * and a close each cost as much as reading the chunk). Closed once the copying is done.
   */
  private readonly files = new OpenFiles(constants.O_RDONLY | constants.O_NOFOLLOW);

  constructor(
    private readonly dir: string,
    private readonly pieces: readonly Piece[],
    private readonly layout: PieceLayout,
  ) {}

  /** A chunk's bytes from a linked file of the tree or a clean local file, verified; null if neither has it. */
  chunk(k: number, c: ChunkRef): Uint8Array | null {
    const linked = this.layout.linked(k);
    const local = this.layout.local(k);
    return (
      (linked ? readVerified(`${this.dir}/${linked.path}`, linked.offset, c.size, c.hash, { files: this.files }) : null) ??
      (local ? readVerified(local.path, local.offset, c.size, c.hash, { files: this.files }) : null)
    );
  }

  /** Piece `i`'s chunks from the tree's linked files and clean local files (chunk()); null if one is in neither. */
  piece(i: number): Array<Uint8Array | null> | null {
    return this.gather(i, (k, c) => this.chunk(k, c));
  }

  /**
   * Pieces written before a kill but not yet recorded are still in the files kept from that run:
   * each chunk is hashed where it was written and, if whole, taken instead of being fetched again.
   * `created`: the files made anew since, which hold none of it.
   */
  salvaged(i: number, created: ReadonlySet<string>): Array<Uint8Array | null> | null {
    return this.gather(i, (k, c) => {
      for (const s of this.layout.writes(k)) {
        if (created.has(s.path) || startsWithHole(join(this.dir, s.path), s.offset, c.size)) continue;
        const bytes = readVerified(join(this.dir, s.path), s.offset, c.size, c.hash, { files: this.files });
        if (bytes) return bytes;
      }
      return null;
    });
  }

  /** Closes the files chunks were read from. */
  close(): void {
    this.files.dropAll();
  }

  /**
   * Piece `i`'s chunks as PieceIntake.store() takes them: null for a chunk only in linked files (its
   * bytes are not needed), else what `get` finds, verified; null if `get` lacks one.
   */
  private gather(i: number, get: (k: number, c: ChunkRef) => Uint8Array | null): Array<Uint8Array | null> | null {
    const piece = this.pieces[i]!;
    const parts: Array<Uint8Array | null> = [];
    for (let j = 0; j < piece.chunks.length; j++) {
      const k = this.layout.first(i) + j;
      if (!this.layout.hasWrites(k)) {
        parts.push(null);
        continue;
      }
      const bytes = get(k, piece.chunks[j]!);
      if (!bytes) return null;
      parts.push(bytes);
    }
    return parts;
  }
}

function startsWithHole(path: string, offset: number, size: number): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return true;
  }
  try {
    const buf = Buffer.alloc(Math.min(PROBE_BYTES, size));
    const n = readSync(fd, buf, 0, buf.length, offset);
    return buf.subarray(0, n).every((b) => b === 0);
  } finally {
    closeSync(fd);
  }
}
