import { closeSync, constants, openSync, readSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { bitfieldBytes, ChunkswarmError, countBits, getBit, isChunkswarmError, isZero, recordBuffers, setBit, systemClock, type Clock, type ReleaseId } from '../core/index.js';
import { hashBytes, isZeroRun, rangeFits, releaseId, wholePiece, type ChunkRef, type Piece, type PieceRange, type SignedRelease } from '../manifest/index.js';
import { OpenFiles, removeTree, syncFilesystem, type InodeCache, type ObjectStore, type ReleaseStore } from '../store/index.js';
import { previousChunks } from './donors.js';
import { pruneInodeMaps, recordInodeMap, sharedWithLive } from './inode-map.js';
import type { ChunkSource } from './local-source.js';
import { finishTree, linkDonors, makeDirs, moveIntoPlace, placeAliases, placeWrites, type AliasAction, type WriteAction } from './materialize.js';
import { PieceReader } from './piece-reader.js';
import { layoutPieces, type FileAction, type PieceLayout } from './plan.js';
import { loadRelease, type ReleaseContent } from './release-files.js';
import { lstatSyncOrNull, ownerOf, parentOf, readVerified, writeAt } from './stage-fs.js';
import { loadProgress, progressPath, removeProgress, saveProgress } from './stage-progress.js';

export interface StagerOptions {
  release: SignedRelease;
  releases: ReleaseStore;
  objects: ObjectStore;
  /** What each inode of the releases was last verified to hold: donors are checked against it. */
  inodes: InodeCache;
  /** The version livePath points at: its files, path by path, are the preferred hard-link donors. */
  liveVersion: number | null;
  /** staging/<v> was just made from the tree of this retained release (recycleRelease). */
  recycledFrom?: number;
  /** Inodes ("dev:ino") of drifted files: never linked, never read as chunk sources. */
  tainted?: Iterable<string>;
  /** Apply recorded uid/gid; default: when running as root. */
  owner?: boolean;
  /** Progress is made durable after this many written pieces or this much time (default 1024 / 5000 ms): each time costs a syncfs. */
  flushEvery?: { pieces?: number; ms?: number };
  clock?: Clock;
  /** After each durable record, with the number of pieces recorded. */
  onFlush?: (recorded: number) => void;
}

/** A never-written slot of a preallocated file starts with zeros; salvage skips it without hashing. */
const PROBE_BYTES = 4096;

/**
 * A release being assembled in staging/<v>/, and the piece store of its download: pieces are runs
 * of the release's unique chunks in canonical order (releasePieces), the BitTorrent piece space.
 *
 * open() plans the tree (plan.ts: which files are hard links of clean local files, which are
 * written) and applies the plan (materialize.ts: directories, links, new files, local chunks);
 * writePiece() verifies each chunk of a piece once and writes it wherever it occurs; complete()
 * finishes the tree and renames it to releases/<v>. Every step survives kill -9: pieces are
 * recorded only after their bytes were made durable, and open() resumes from the record.
 */
export class Stager {
  readonly version: number;
  readonly releaseId: ReleaseId;
  readonly pieces: readonly Piece[];
  /** Where the tree is assembled; releases/<v> once complete (or if it already was). */
  dir: string;
  materialized: boolean;
  /** Pieces accepted by writePiece since open. */
  written = 0;
  /** Pieces copied from this node's own files since open. */
  copied = 0;
  /** Files that are hard links of another release's inode. */
  readonly linkedFiles: number;
  /** The retained release whose tree this staging area was made from, if it was (recycleRelease). */
  readonly recycledFrom: number | null;
  /** Files of that tree kept without a look: the live release's inodes, checked before the switch (sharedWithLive). */
  keptShared = 0;
  /** When complete() made it a release (ms since the epoch), if it did. */
  completedAt: number | null = null;
  private readonly done: Uint8Array;
  /** What building the tree needs; dropped once it is a release that only serves its pieces (forgetPlan). */
  private plan: { content: ReleaseContent; actions: readonly FileAction[] } | null;
  private pending = 0;
  private lastFlush: number;
  private flushChain: Promise<void> = Promise.resolve();
  private readonly inFlight = new Map<number, Promise<void>>();
  /**
   * The files pieces are written to stay open from one flush to the next: a file staging creates
   * again (prepare, repairWrites) is never written through an old descriptor, as both close them first.
   */
  private readonly writeFiles = new OpenFiles(constants.O_WRONLY | constants.O_NOFOLLOW);
  /**
   * Files this node copies chunks from (its other releases, the tree's linked files): one open per
   * file, not per chunk (a 300 MB file edited in one place is ~4,000 chunks copied, and an open
   * and a close each cost as much as reading the chunk). Closed once the copying is done.
   */
  private readonly readFiles = new OpenFiles(constants.O_RDONLY | constants.O_NOFOLLOW);
  /**
   * Files this process created (all holes, placeWrites): a chunk of zeros is not written into
   * them, so a sparse file stays sparse. A file kept from an earlier run or from the recycled tree
   * may hold other bytes where the chunk goes: it gets every chunk written, which is why a file
   * with runs of zeros is never kept (sparseFiles).
   */
  private readonly holes = new Set<string>();
  private readonly reader: PieceReader;
  /** Pieces to fetch whole: a chunk outside the part fetched was no longer in this node's files. */
  private readonly fetchWhole = new Set<number>();
  private readonly flushPieces: number;
  private readonly flushMs: number;
  private readonly clock: Clock;

  private constructor(
    private readonly opts: StagerOptions,
    content: ReleaseContent,
    actions: readonly FileAction[],
    private readonly layout: PieceLayout,
    materialized: boolean,
    private readonly tainted: ReadonlySet<string>,
  ) {
    this.version = opts.release.body.version;
    this.releaseId = releaseId(opts.release.body);
    this.pieces = content.pieces;
    this.materialized = materialized;
    this.dir = materialized ? opts.releases.releasePath(this.version) : opts.releases.stagingPath(this.version);
    this.plan = { content, actions };
    this.linkedFiles = actions.filter((a) => a.kind === 'link').length;
    this.recycledFrom = opts.recycledFrom ?? null;
    this.done = bitfieldBytes(this.pieces.length);
    this.clock = opts.clock ?? systemClock;
    this.lastFlush = this.clock.now();
    this.flushPieces = opts.flushEvery?.pieces ?? 1024;
    this.flushMs = opts.flushEvery?.ms ?? 5000;
    this.reader = new PieceReader(layout, !materialized);
  }

  /**
   * Plans and prepares staging/<v>. A release already materialized gives a complete Stager that
   * serves its pieces. Resuming: pieces recorded in the progress file are trusted (their bytes were
   * made durable before they were recorded) unless a file holding them had to be created anew;
   * unrecorded bytes a killed run wrote are found by hashing them (salvage).
   */
  static async open(opts: StagerOptions): Promise<Stager> {
    const { release, releases, objects } = opts;
    const version = release.body.version;
    if ((await releases.materialized()).includes(version)) {
      const content = await loadRelease(release.body.root, objects, releases.releasePath(version));
      const actions: FileAction[] = content.files.map((f) => ({ kind: 'write', path: f.path, entry: f.entry, size: f.size }));
      const layout = layoutPieces({ actions, files: content.files, chunks: content.chunks, pieces: content.pieces, local: new Map() });
      const s = new Stager(opts, content, actions, layout, true, new Set());
      s.pieces.forEach((_p, i) => setBit(s.done, i, true));
      s.forgetPlan();
      return s;
    }
    const staging = releases.stagingPath(version);
    const ppath = progressPath(releases, version);
    const like = opts.liveVersion === null ? null : await releases.head(opts.liveVersion).then((h) => h.body.root, () => null);
    const content = await loadRelease(release.body.root, objects, staging, like);
    const progress = await loadProgress(ppath, releaseId(release.body), content.pieces.length);
    // No record at all: killed before the first flush, and what it wrote is checked (salvage).
    // A record that is not this release's means a staging area that is not either.
    if (progress === null && lstatSyncOrNull(ppath) !== null) {
      await removeTree(staging, { cache: opts.inodes });
      await removeProgress(ppath);
    }
    const tainted = new Set([...(opts.tainted ?? []), ...(progress?.tainted ?? [])]);
    // Before makeDirs: making a directory writable moves its ctime, which is what the maps go by.
    const shared = opts.recycledFrom !== undefined && opts.liveVersion !== null
      ? await sharedWithLive(releases, opts.recycledFrom, staging, opts.liveVersion)
      : undefined;
    try {
      await mkdir(releases.stagingDir, { recursive: true });
      const fresh = makeDirs(staging, content.dirs, opts.recycledFrom !== undefined);
      const mayExist = (path: string) => !fresh.has(parentOf(path));
      const { actions, previous, sharedKept } = await linkDonors(staging, {
        root: content.root, files: content.files,
        releases, objects, inodes: opts.inodes, preferred: opts.liveVersion, exclude: version, tainted, owner: ownerOf(opts),
        inPlace: opts.recycledFrom === undefined ? null : staging, ...(shared && { sharedInPlace: shared }),
      }, mayExist);
      const local = await previousChunks({ objects, inodes: opts.inodes, tainted }, previous, actions);
      const layout = layoutPieces({ actions, files: content.files, chunks: content.chunks, pieces: content.pieces, local });
      const s = new Stager(opts, content, actions, layout, false, tainted);
      s.keptShared = sharedKept;
      await s.prepare(progress?.done ?? null, mayExist);
      return s;
    } catch (err) {
      // Something not ours was planted in the staging area: start from scratch next time.
      if (isChunkswarmError(err, 'E_UNSAFE_PATH')) {
        await removeTree(staging, { cache: opts.inodes });
        await removeProgress(ppath);
      }
      throw err;
    }
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
   * the piece is to be fetched again, whole. `bytes` are the stager's from the call on.
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
      this.written++;
      if (this.pending >= this.flushPieces || this.clock.now() - this.lastFlush >= this.flushMs) await this.flush();
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
      const local = this.localChunk(first + j, piece.chunks[j]!);
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
    return this.reader.read(this.dir, index, piece, r, () => (alloc ? alloc(r.length) : Buffer.allocUnsafe(r.length)));
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
        const bytes = this.localChunk(k, c) ?? verified(await source(c, slots[0]!), c);
        if (!bytes) break;
        parts.push(bytes);
      }
      if (parts.length < piece.chunks.length || getBit(this.done, i)) continue;
      this.store(i, parts);
      this.written++;
      filled++;
      if (this.pending >= this.flushPieces) await this.flush();
    }
    return filled;
  }

  /** Makes every written piece durable, then records it (`force`: even if nothing was written). */
  flush(force = false): Promise<void> {
    // One failed flush (e.g. a full disk) must not fail every later one.
    this.flushChain = this.flushChain.catch(() => undefined).then(async () => {
      this.dropFiles();
      if (this.materialized || (this.pending === 0 && !force)) return;
      const snapshot = this.done.slice();
      const pending = this.pending;
      this.pending = 0;
      this.lastFlush = this.clock.now();
      try {
        // Nothing written since the last flush (a first record, say): what the record claims is
        // durable already, and a syncfs would only wait on every other writer of the file system.
        if (pending > 0) await syncFilesystem(this.dir);
        await saveProgress(progressPath(this.opts.releases, this.version), {
          release: this.releaseId, pieces: this.pieces.length, done: snapshot, tainted: [...this.tainted],
        });
      } catch (err) {
        this.pending += Math.max(1, pending);
        throw err;
      }
      this.opts.onFlush?.(countBits(snapshot));
    });
    return this.flushChain;
  }

  /** Closes the files pieces were written to and read from, after any flush under way. */
  private closeFiles(): Promise<void> {
    this.flushChain = this.flushChain.catch(() => undefined).then(() => this.dropFiles());
    return this.flushChain;
  }

  private dropFiles(): void {
    this.writeFiles.dropAll();
    this.readFiles.dropAll();
    this.reader.closeFiles();
  }

  /**
   * Finishes the tree (symlinks, strays removed, metadata), makes it durable and renames it to
   * releases/<v>. Every byte of a written file was verified on its way in and every linked file
   * is a clean inode, so nothing is read again here; a written file found damaged (wrong size,
   * shared, gone) is created again, and if that needs pieces this node does not have, it throws
   * E_HASH_MISMATCH and missing() lists them again.
   */
  async complete(): Promise<string> {
    if (this.materialized) return this.dir;
    const missing = this.missing().length;
    if (missing > 0) {
      throw new ChunkswarmError('E_NOT_FOUND', `${missing} of ${this.pieces.length} pieces of release ${this.version} are not on this node`);
    }
    // No flush: moveIntoPlace's syncfs makes the pieces durable with the rest of the tree, and a
    // crash before it finds them by hashing (salvage), as any piece written since the last flush.
    await this.closeFiles();
    await this.repairWrites();
    const { releases, objects, inodes } = this.opts;
    await finishTree(this.dir, this.need().content, this.actions, objects, ownerOf(this.opts), inodes);
    const final = releases.releasePath(this.version);
    await moveIntoPlace(this.dir, final, this.version);
    await removeProgress(progressPath(releases, this.version));
    this.dir = final;
    this.materialized = true;
    this.reader.released();
    this.completedAt = Date.now();
    // Every written file was just verified: the first check of this release reads nothing. The
    // inode map takes each file's inode as it comes: no map of 10^5 paths to inode names is held.
    const { actions } = this;
    function* inodesOfFiles(): Generator<[string, string, { dev: number; ino: number }]> {
      for (const a of actions) {
        if (a.kind === 'link') yield [a.path, a.entry.name, a.inodeNumbers];
        if (a.kind !== 'write') continue;
        const st = lstatSyncOrNull(`${final}/${a.path}`);
        if (!st?.isFile()) continue;
        inodes.remember(st, a.entry.hash!);
        yield [a.path, a.entry.name, st];
      }
    }
    await recordInodeMap(releases, this.version, final, inodesOfFiles());
    await inodes.save();
    // The map of a recycled tree was read when staging began: that tree is this release's now.
    await pruneInodeMaps(releases, await releases.materialized());
    return final;
  }

  /** Flushes progress; the staging area stays for a later open(). */
  async close(): Promise<void> {
    await this.flush();
  }

  /** The plan: what becomes of each file (see planFiles); empty once forgotten. */
  get actions(): readonly FileAction[] {
    return this.plan?.actions ?? [];
  }

  /**
   * Drops what only building the tree needed (the plan, the file objects): a release that is live
   * or retained keeps serving its pieces from the layout alone, for as long as the node runs.
   */
  forgetPlan(): void {
    if (!this.materialized) return;
    this.plan = null;
    this.holes.clear();
  }

  private need(): NonNullable<Stager['plan']> {
    if (!this.plan) throw new ChunkswarmError('E_USAGE', `release ${this.version} is complete: its plan is no longer kept`);
    return this.plan;
  }

  private writes(): WriteAction[] {
    return this.actions.filter((a): a is WriteAction => a.kind === 'write');
  }

  /**
   * Files to write that hold runs of zeros: made anew rather than rewritten in place, so that their
   * zeros stay holes (an in-place rewrite writes every chunk, zeros too: a 64 MiB disk image of
   * 512 KiB data took 64 MiB on disk once a steady update rewrote it in a recycled tree).
   */
  private sparseFiles(): Set<string> {
    const { content, actions } = this.need();
    const out = new Set<string>();
    // Actions are the release's files, in the same order (planFiles).
    actions.forEach((a, i) => {
      const f = content.files[i];
      if (a.kind === 'write' && f?.path === a.path && f.file.chunks.some(isZeroRun)) out.add(a.path);
    });
    return out;
  }

  private aliases(): AliasAction[] {
    return this.actions.filter((a): a is AliasAction => a.kind === 'alias');
  }

  /**
   * New inodes for the files to write, their pieces marked, then every piece this node can fill
   * itself. `mayExist`: whether a path's directory may hold something already (see placeWrites).
   */
  private async prepare(recorded: Uint8Array | null, mayExist: (path: string) => boolean): Promise<void> {
    const created = await placeWrites(this.dir, this.writes(), this.aliases(), mayExist, this.sparseFiles());
    for (const path of created) this.holes.add(path);
    await placeAliases(this.dir, this.aliases());
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
    this.readFiles.dropAll();
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
    const parts = this.gather(i, (k, c) => this.localChunk(k, c));
    if (!parts) return false;
    this.store(i, parts);
    this.copied++;
    return true;
  }

  /**
   * Pieces written before a kill but not yet recorded are still in the files kept from that run:
   * each chunk is hashed where it was written and, if whole, taken instead of being fetched again.
   */
  private salvage(i: number, created: ReadonlySet<string>): void {
    const parts = this.gather(i, (k, c) => {
      for (const s of this.layout.writes(k)) {
        if (created.has(s.path) || startsWithHole(join(this.dir, s.path), s.offset, c.size)) continue;
        const bytes = readVerified(join(this.dir, s.path), s.offset, c.size, c.hash, { files: this.readFiles });
        if (bytes) return bytes;
      }
      return null;
    });
    if (!parts) return;
    this.store(i, parts);
    this.copied++;
  }

  /**
   * Piece `i`'s chunks as store() takes them: null for a chunk only in linked files (its bytes are
   * not needed), else what `get` finds, verified; null if `get` lacks one.
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

  /** A chunk's bytes from a linked file of the tree or a clean local file, verified; null if neither has it. */
  private localChunk(k: number, c: ChunkRef): Uint8Array | null {
    const linked = this.layout.linked(k);
    const local = this.layout.local(k);
    return (
      (linked ? readVerified(`${this.dir}/${linked.path}`, linked.offset, c.size, c.hash, { files: this.readFiles }) : null) ??
      (local ? readVerified(local.path, local.offset, c.size, c.hash, { files: this.readFiles }) : null)
    );
  }

  /** Writes each chunk at every slot (`null`: a chunk with nothing to write) and marks the piece done (recorded at the next flush). */
  private store(i: number, parts: ReadonlyArray<Uint8Array | null>): void {
    const byPath = new Map<string, Array<{ bytes: Uint8Array; offset: number }>>();
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
    for (const [path, list] of byPath) writeAt(this.writeFiles, `${this.dir}/${path}`, list);
    setBit(this.done, i, true);
    this.pending++;
  }

  /**
   * Written files are checked at lstat speed before they become a release: a file that is gone,
   * of the wrong size or shared with something outside the tree was tampered with under staging.
   */
  private async repairWrites(): Promise<void> {
    const aliasesOf = new Map<string, number>();
    for (const a of this.aliases()) aliasesOf.set(a.of, (aliasesOf.get(a.of) ?? 0) + 1);
    const bad = this.writes().filter((a) => {
      const st = lstatSyncOrNull(`${this.dir}/${a.path}`);
      return !st?.isFile() || st.size !== a.size || st.nlink !== 1 + (aliasesOf.get(a.path) ?? 0);
    });
    if (bad.length === 0) return;
    const paths = new Set(bad.map((a) => a.path));
    const created = await placeWrites(this.dir, bad, this.aliases());
    for (const path of created) this.holes.add(path);
    await placeAliases(this.dir, this.aliases());
    for (let i = 0; i < this.pieces.length; i++) {
      if (!this.touches(i, paths)) continue;
      setBit(this.done, i, false);
      this.pending++;
      if (!this.fillLocal(i)) this.salvage(i, created);
    }
    await this.flush(true);
    const missing = this.missing().length;
    if (missing > 0) {
      throw new ChunkswarmError(
        'E_HASH_MISMATCH',
        `${[...paths].join(', ')} changed under ${this.dir} while release ${this.version} was staged; ${missing} pieces must be fetched again`,
      );
    }
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
