import { constants } from 'node:fs';
import { bitfieldBytes, ChunkswarmError, getBit, isZero, recordBuffers, setBit } from '../core/index.js';
import { hashBytes, rangeFits, wholePiece, type ChunkRef, type Piece, type PieceRange } from '../manifest/index.js';
import { OpenFiles } from '../store/index.js';
import type { ChunkSource } from './local-source.js';
import { OwnChunks } from './own-chunks.js';
import { PieceReader } from './piece-reader.js';
import type { PlacedWrites } from './materialize.js';
import type { PieceLayout } from './plan.js';
import { createWhole, writeAt, type FileMeta, type PlacedBytes } from './stage-fs.js';
import type { ProgressRecord } from './stage-progress.js';

/**
 * The piece store of a staging area: pieces are runs of the release's unique chunks in canonical
 * order (releasePieces), the BitTorrent piece space. writePiece() verifies each chunk of a piece
 * once and writes it wherever it occurs in the tree; a piece is recorded only after its bytes were
 * made durable. The Stager places the files; the intake then fills what this node holds itself
 * (settle, refill), takes the rest from peers (writePiece) or a source (fillFrom), and serves it.
 */
export class PieceIntake {
  private accepted = 0;
  private copiedHere = 0;
  private readonly done: Uint8Array;
  private flushChain: Promise<void> = Promise.resolve();
  private readonly inFlight = new Map<number, Promise<void>>();
  /**
   * The files pieces are written to stay open from one flush to the next: a file staging creates
   * again (the Stager's prepare and repairWrites) is never written through an old descriptor, as
   * both close them first.
   */
  private readonly writeFiles = new OpenFiles(constants.O_WRONLY | constants.O_NOFOLLOW);
  /**
   * Files this process created at their size (all holes, placeWrites): a chunk of zeros is not
   * written into them, so a sparse file stays sparse. A file kept from an earlier run or from the
   * recycled tree may hold other bytes where the chunk goes, and one created empty has no size
   * until written: each gets every chunk written, which is why a file with runs of zeros is never
   * kept (Stager.sparseFiles).
   */
  private readonly holes = new Set<string>();
  /** Files not made yet, made by their one write with this metadata (placeWrites' atWrite). */
  private readonly unborn = new Map<string, FileMeta>();
  /** Files made whole by their write, metadata included, since open: finishTree leaves them be. */
  readonly metaGiven = new Set<string>();
  private readonly reader: PieceReader;
  private readonly own: OwnChunks;
  /** Pieces to fetch whole: a chunk outside the part fetched was no longer in this node's files. */
  private readonly fetchWhole = new Set<number>();

  /** `tree`: where the pieces go, staging/<v>; or releases/<v> if `isRelease`, every piece there. */
  constructor(
    private readonly version: number,
    private readonly pieces: readonly Piece[],
    private readonly layout: PieceLayout,
    private readonly record: ProgressRecord,
    private tree: string,
    private isRelease: boolean,
  ) {
    this.done = bitfieldBytes(pieces.length);
    if (isRelease) pieces.forEach((_p, i) => setBit(this.done, i, true));
    this.reader = new PieceReader(layout, !isRelease);
    this.own = new OwnChunks(tree, pieces, layout);
  }

  /** Where the tree is; releases/<v> once it is a release. */
  get dir(): string {
    return this.tree;
  }

  get materialized(): boolean {
    return this.isRelease;
  }

  /** Pieces accepted by writePiece and fillFrom. */
  get written(): number {
    return this.accepted;
  }

  /** Pieces copied from this node's own files. */
  get copied(): number {
    return this.copiedHere;
  }

  bitfield(): Uint8Array {
    return this.done.slice();
  }

  hasPiece(index: number): boolean {
    return index >= 0 && index < this.pieces.length && getBit(this.done, index);
  }

  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.pieces.length; i++) if (!getBit(this.done, i)) out.push(i);
    return out;
  }

  /**
   * The part of piece `index` this node must fetch: the span from the first to the last chunk that
   * is written into the tree and that no file of this node holds (an update links the unchanged
   * files, whose chunks fill most of the piece), or the whole piece.
   */
  wantedRange(index: number): PieceRange {
    const piece = this.pieceAt(index);
    return (!this.fetchWhole.has(index) && this.layout.networkSpan(index, piece)) || wholePiece(piece);
  }

  /**
   * Verifies a piece from the network, or the part of it from `offset` that wantedRange() named,
   * chunk by chunk (the one check its bytes get), and writes each chunk wherever it occurs in the
   * release; the chunks outside a part come from this node's files, verified. Returns false if the
   * piece was already there. E_HASH_MISMATCH: the bytes are not the piece (or that part of it).
   * E_NOT_FOUND: a chunk outside the part is no longer on this node (a file edited meanwhile):
   * the piece is to be fetched again, whole. `bytes` are the intake's from the call on.
   */
  async writePiece(index: number, bytes: Uint8Array, offset = 0): Promise<boolean> {
    let kept = false;
    try {
      const piece = this.pieceAt(index);
      const whole = offset === 0 && bytes.length === piece.size;
      if (!(await this.storePiece(index, piece, bytes, offset, whole))) return false;
      if (whole) {
        this.reader.receivedWhole(index, bytes);
        kept = true;
      }
      this.accepted++;
      if (this.record.due(true)) await this.flush();
      return true;
    } finally {
      // Bytes received into a pooled record buffer go back to the pool unless the reader keeps them (recordBuffers).
      if (!kept) recordBuffers.giveBack(bytes);
    }
  }

  /** writePiece's check and writes; false if the piece was there already. */
  private async storePiece(index: number, piece: Piece, bytes: Uint8Array, offset: number, whole: boolean): Promise<boolean> {
    if (getBit(this.done, index)) return false;
    const busy = this.inFlight.get(index);
    if (busy) {
      await busy;
      return false;
    }
    if (!whole && !rangeFits(piece, { offset, length: bytes.length })) {
      throw ChunkswarmError.hashMismatch(`piece ${index}`, `${piece.size} bytes`, `${bytes.length} bytes at ${offset}`);
    }
    const end = offset + bytes.length;
    const first = this.layout.first(index);
    const parts: Array<Uint8Array | null> = [];
    let at = 0;
    for (let j = 0; j < piece.chunks.length; j++) {
      const c = piece.chunks[j]!;
      const start = at;
      at += c.size;
      if (start >= offset && at <= end) {
        const part = bytes.subarray(start - offset, at - offset);
        const got = hashBytes(part);
        if (got !== c.hash) throw ChunkswarmError.hashMismatch(`piece ${index}, chunk ${j}`, c.hash, got);
        parts.push(part);
      } else if (start < end && at > offset) {
        throw new ChunkswarmError('E_HASH_MISMATCH', `piece ${index}: ${bytes.length} bytes at ${offset} cut chunk ${j} (a part of a piece is whole chunks)`);
      } else parts.push(null);
    }
    const span = this.layout.networkSpan(index, piece);
    if (span && (offset > span.offset || end < span.offset + span.length)) {
      throw new ChunkswarmError(
        'E_HASH_MISMATCH',
        `piece ${index}: ${bytes.length} bytes at ${offset} leave out some of bytes ${span.offset}..${span.offset + span.length - 1}, which no file of this node holds`,
      );
    }
    // Only after the received bytes proved right: a failure here is this node's, not the peer's.
    for (let j = 0; j < parts.length; j++) {
      if (parts[j] !== null || !this.layout.hasWrites(first + j)) continue;
      const local = this.own.chunk(first + j, piece.chunks[j]!);
      if (!local) {
        this.fetchWhole.add(index);
        throw new ChunkswarmError(
          'E_NOT_FOUND',
          `chunk ${j} of piece ${index} of release ${this.version} is no longer in this node's files (changed since staging began): the piece will be fetched whole`,
        );
      }
      parts[j] = local;
    }
    const work = Promise.resolve().then(() => this.store(index, parts));
    this.inFlight.set(index, work);
    try {
      await work;
    } finally {
      this.inFlight.delete(index);
    }
    return true;
  }

  /**
   * A piece's bytes for a peer, or `range` of them (see PieceReader); null if absent, damaged or
   * outside the piece. `alloc`: where to put them if they are read (a buffer the connection lends,
   * see WireStore.readPiece).
   */
  async readPiece(index: number, alloc?: (size: number) => Uint8Array, range?: PieceRange): Promise<Uint8Array | null> {
    const piece = this.pieceAt(index);
    const r = range ?? wholePiece(piece);
    if (!getBit(this.done, index) || !rangeFits(piece, r)) return null;
    return this.reader.read(this.tree, index, piece, r, () => (alloc ? alloc(r.length) : Buffer.allocUnsafe(r.length)));
  }

  /**
   * Fills every missing piece from `source` (another data directory, say): each chunk to write is
   * taken from this node's own files if it is there, else from the source, and verified either way.
   * Returns the pieces filled; those the source lacks stay missing.
   */
  async fillFrom(source: ChunkSource): Promise<number> {
    let filled = 0;
    for (const i of this.missing()) {
      const piece = this.pieces[i]!;
      const parts: Array<Uint8Array | null> = [];
      for (let j = 0; j < piece.chunks.length; j++) {
        const k = this.layout.first(i) + j;
        const c = piece.chunks[j]!;
        const slots = this.layout.writes(k);
        // A chunk only in linked files has nothing to be written: its bytes are not needed.
        if (slots.length === 0) {
          parts.push(null);
          continue;
        }
        const bytes = this.own.chunk(k, c) ?? verified(await source(c, slots[0]!), c);
        if (!bytes) break;
        parts.push(bytes);
      }
      if (parts.length < piece.chunks.length || getBit(this.done, i)) continue;
      this.store(i, parts);
      this.accepted++;
      filled++;
      if (this.record.due(false)) await this.flush();
    }
    return filled;
  }

  /** Makes every written piece durable, then records it (`force`: even if nothing was written). */
  flush(force = false): Promise<void> {
    // One failed flush (e.g. a full disk) must not fail every later one.
    this.flushChain = this.flushChain.catch(() => undefined).then(async () => {
      this.dropFiles();
      if (!this.isRelease) await this.record.write(this.tree, this.done, force);
    });
    return this.flushChain;
  }

  /** Closes the files pieces were written to and read from, after any flush under way. */
  closeFiles(): Promise<void> {
    this.flushChain = this.flushChain.catch(() => undefined).then(() => this.dropFiles());
    return this.flushChain;
  }

  private dropFiles(): void {
    this.writeFiles.dropAll();
    this.own.close();
    this.reader.closeFiles();
  }

  /**
   * Takes stock once the Stager placed the files to write (`created`: those made anew): marks the
   * pieces the tree holds and those `recorded` that no new file lost, then fills every piece this
   * node can fill itself.
   */
  async settle(recorded: Uint8Array | null, { created, holes, atWrite }: PlacedWrites): Promise<void> {
    for (const path of holes) this.holes.add(path);
    for (const [path, meta] of atWrite) this.unborn.set(path, meta);
    const { layout } = this;
    const stale: number[] = [];
    for (let i = 0; i < this.pieces.length; i++) {
      if (layout.state(i) === 'done') setBit(this.done, i, true);
      else if (recorded && getBit(recorded, i)) {
        if (this.touches(i, created)) stale.push(i);
        else setBit(this.done, i, true);
      }
    }
    // The record names what is durable already; what this node copies below is pending until the
    // next flush. A syncfs here waited on every writer of the file system before the first
    // request left (0.6-2.6 s with 32 nodes on two cores, bench --n 32, 1 % update).
    await this.flush(true);
    for (let i = 0; i < this.pieces.length; i++) {
      if (getBit(this.done, i)) continue;
      if (layout.state(i) === 'local' && this.fillLocal(i)) continue;
      this.salvage(i, created);
    }
    // Recorded pieces whose files had to be created again: copied from this node, or fetched again.
    for (const i of stale) if (!getBit(this.done, i) && !this.fillLocal(i)) this.salvage(i, created);
    // The rest comes from peers, maybe much later: no descriptor keeps a collected release's space.
    this.own.close();
  }

  /**
   * The pieces that go into `paths` (files the Stager made again, `created` anew) are filled again
   * from this node's files where they can be, then recorded; missing() lists the rest.
   */
  async refill(paths: ReadonlySet<string>, { created, holes, atWrite }: PlacedWrites): Promise<void> {
    for (const path of holes) this.holes.add(path);
    for (const path of created) {
      this.metaGiven.delete(path);
      this.unborn.delete(path);
    }
    for (const [path, meta] of atWrite) this.unborn.set(path, meta);
    for (let i = 0; i < this.pieces.length; i++) {
      if (!this.touches(i, paths)) continue;
      setBit(this.done, i, false);
      this.record.changed();
      if (!this.fillLocal(i)) this.salvage(i, created);
    }
    await this.flush(true);
  }

  /** The tree was renamed to `dir`, a release: nothing is written into it any more. */
  released(dir: string): void {
    this.tree = dir;
    this.isRelease = true;
    this.reader.released();
    this.holes.clear();
    // A release serves its pieces for days: what only building it needed goes.
    this.metaGiven.clear();
    this.unborn.clear();
  }

  /** Whether a chunk of piece `i` goes into one of `paths`. */
  private touches(i: number, paths: ReadonlySet<string>): boolean {
    if (paths.size === 0) return false;
    for (let k = this.layout.first(i); k < this.layout.first(i + 1); k++) {
      if (this.layout.writes(k).some((s) => paths.has(s.path))) return true;
    }
    return false;
  }

  /** Writes piece `i` from this node's own files if every chunk it needs is there, verified. */
  private fillLocal(i: number): boolean {
    const parts = this.own.piece(i);
    if (!parts) return false;
    this.store(i, parts);
    this.copiedHere++;
    return true;
  }

  /** Writes piece `i` from where a killed run wrote it, if every chunk it needs is there (OwnChunks.salvaged). */
  private salvage(i: number, created: ReadonlySet<string>): void {
    const parts = this.own.salvaged(i, created);
    if (!parts) return;
    this.store(i, parts);
    this.copiedHere++;
  }

  /** Writes each chunk at every slot (`null`: a chunk with nothing to write) and marks the piece done (recorded at the next flush). */
  private store(i: number, parts: ReadonlyArray<Uint8Array | null>): void {
    const byPath = new Map<string, PlacedBytes[]>();
    parts.forEach((bytes, j) => {
      if (!bytes) return;
      const zero = isZero(bytes);
      for (const s of this.layout.writes(this.layout.first(i) + j)) {
        if (zero && this.holes.has(s.path)) continue;
        const list = byPath.get(s.path);
        if (list) list.push({ bytes, offset: s.offset });
        else byPath.set(s.path, [{ bytes, offset: s.offset }]);
      }
    });
    for (const [path, list] of byPath) {
      const meta = this.unborn.get(path);
      if (!meta) {
        writeAt(this.writeFiles, `${this.tree}/${path}`, list);
        continue;
      }
      createWhole(`${this.tree}/${path}`, list, meta);
      this.unborn.delete(path);
      this.metaGiven.add(path);
    }
    setBit(this.done, i, true);
    this.record.changed();
  }

  private pieceAt(index: number): Piece {
    const p = Number.isInteger(index) ? this.pieces[index] : undefined;
    if (!p) throw ChunkswarmError.usage(`piece ${index} is outside release ${this.version}'s ${this.pieces.length} pieces`);
    return p;
  }
}

function verified(bytes: Uint8Array | null, c: ChunkRef): Uint8Array | null {
  return bytes && bytes.length === c.size && hashBytes(bytes) === c.hash ? bytes : null;
}
