import { mkdir } from 'node:fs/promises';
import { ChunkswarmError, isChunkswarmError, type ReleaseId } from '../core/index.js';
import { isOneChunk, isZeroRun, releaseId, type Piece, type PieceRange, type SignedRelease } from '../manifest/index.js';
import { removeTree, type InodeCache, type InodeStat, type ObjectStore, type ReleaseStore } from '../store/index.js';
import { previousChunks } from './donors.js';
import { pruneInodeMaps, recordInodeMap, sharedWithLive } from './inode-map.js';
import type { ChunkSource } from './local-source.js';
import { finishTree, linkDonors, makeDirs, moveIntoPlace, placeAliases, placeWrites, type AliasAction, type WriteAction } from './materialize.js';
import { PieceIntake } from './piece-intake.js';
import { layoutPieces, type FileAction, type PieceLayout } from './plan.js';
import { loadRelease, type ReleaseContent } from './release-files.js';
import { lstatSyncOrNull, ownerOf, parentOf } from './stage-fs.js';
import { loadProgress, progressPath, ProgressRecord, removeProgress, type ProgressOptions } from './stage-progress.js';

export interface StagerOptions extends ProgressOptions {
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
  /**
   * The release's packs are left to the caller (saveReleasePacks), not written while it is planned:
   * a running node writes them once the release has been served a while (~0.1 s of CPU per 20,000
   * files, which the followers' update waited for, each on a machine shared with the others).
   */
  deferPacks?: boolean;
}

/**
 * A release being assembled in staging/<v>/, turned into a directory; the piece store of its
 * download is a PieceIntake, whose piece methods the Stager passes on.
 *
 * open() plans the tree (plan.ts: which files are hard links of clean local files, which are
 * written) and applies the plan (materialize.ts: directories, links, new files, local chunks);
 * the intake takes the pieces in; complete() finishes the tree and renames it to releases/<v>.
 * Every step survives kill -9: pieces are recorded only after their bytes were made durable, and
 * open() resumes from the record.
 */
export class Stager {
  readonly version: number;
  readonly releaseId: ReleaseId;
  readonly pieces: readonly Piece[];
  /** Files that are hard links of another release's inode. */
  readonly linkedFiles: number;
  /** The retained release whose tree this staging area was made from, if it was (recycleRelease). */
  readonly recycledFrom: number | null;
  /** Files of that tree kept without a look: the live release's inodes, checked before the switch (sharedWithLive). */
  keptShared = 0;
  /** When complete() made it a release (ms since the epoch), if it did. */
  completedAt: number | null = null;
  /** What building the tree needs; dropped once it is a release that only serves its pieces (forgetPlan). */
  private plan: { content: ReleaseContent; actions: readonly FileAction[] } | null;
  private readonly intake: PieceIntake;

  private constructor(
    private readonly opts: StagerOptions,
    content: ReleaseContent,
    actions: readonly FileAction[],
    layout: PieceLayout,
    materialized: boolean,
    tainted: ReadonlySet<string>,
  ) {
    this.version = opts.release.body.version;
    this.releaseId = releaseId(opts.release.body);
    this.pieces = content.pieces;
    this.plan = { content, actions };
    this.linkedFiles = actions.filter((a) => a.kind === 'link').length;
    this.recycledFrom = opts.recycledFrom ?? null;
    const { releases } = opts;
    const record = new ProgressRecord(progressPath(releases, this.version), this.releaseId, this.pieces.length, tainted, opts);
    const dir = materialized ? releases.releasePath(this.version) : releases.stagingPath(this.version);
    this.intake = new PieceIntake(this.version, this.pieces, layout, record, dir, materialized);
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
      const content = await loadRelease(release.body.root, objects, releases.releasePath(version), { savePacks: !opts.deferPacks });
      const actions: FileAction[] = content.files.map((f) => ({ kind: 'write', path: f.path, entry: f.entry, size: f.size }));
      const layout = layoutPieces({ actions, files: content.files, chunks: content.chunks, pieces: content.pieces, local: new Map() });
      const s = new Stager(opts, content, actions, layout, true, new Set());
      s.forgetPlan();
      return s;
    }
    const staging = releases.stagingPath(version);
    const ppath = progressPath(releases, version);
    const like = opts.liveVersion === null ? null : await releases.head(opts.liveVersion).then((h) => h.body.root, () => null);
    const content = await loadRelease(release.body.root, objects, staging, { like, savePacks: !opts.deferPacks });
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

  /** Where the tree is assembled; releases/<v> once complete (or if it already was). */
  get dir(): string {
    return this.intake.dir;
  }

  get materialized(): boolean {
    return this.intake.materialized;
  }

  /** Pieces accepted by writePiece and fillFrom since open. */
  get written(): number {
    return this.intake.written;
  }

  /** Pieces copied from this node's own files since open. */
  get copied(): number {
    return this.intake.copied;
  }

  bitfield(): Uint8Array {
    return this.intake.bitfield();
  }

  hasPiece(index: number): boolean {
    return this.intake.hasPiece(index);
  }

  missing(): number[] {
    return this.intake.missing();
  }

  /** See PieceIntake.wantedRange. */
  wantedRange(index: number): PieceRange {
    return this.intake.wantedRange(index);
  }

  /** See PieceIntake.writePiece. */
  writePiece(index: number, bytes: Uint8Array, offset = 0): Promise<boolean> {
    return this.intake.writePiece(index, bytes, offset);
  }

  /** See PieceIntake.readPiece. */
  readPiece(index: number, alloc?: (size: number) => Uint8Array, range?: PieceRange): Promise<Uint8Array | null> {
    return this.intake.readPiece(index, alloc, range);
  }

  /** See PieceIntake.fillFrom. */
  fillFrom(source: ChunkSource): Promise<number> {
    return this.intake.fillFrom(source);
  }

  /** Makes every written piece durable, then records it (`force`: even if nothing was written). */
  flush(force = false): Promise<void> {
    return this.intake.flush(force);
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
    await this.intake.closeFiles();
    const whole = await this.repairWrites();
    const { releases, objects, inodes } = this.opts;
    await finishTree(this.dir, this.need().content, this.actions, objects, ownerOf(this.opts), inodes, this.intake.metaGiven);
    const final = releases.releasePath(this.version);
    await moveIntoPlace(this.dir, final, this.version);
    await removeProgress(progressPath(releases, this.version));
    this.intake.released(final);
    this.completedAt = Date.now();
    // Every written file was just verified: the first check of this release reads nothing. The
    // inode map takes each file's inode as it comes: no map of 10^5 paths to inode names is held.
    const { actions } = this;
    function* inodesOfFiles(): Generator<[string, string, { dev: number; ino: number }]> {
      let w = 0;
      for (const a of actions) {
        if (a.kind === 'link') yield [a.path, a.entry.name, a.inodeNumbers];
        if (a.kind !== 'write') continue;
        let st: InodeStat | null = whole.get(w++);
        if (st === null) {
          const now = lstatSyncOrNull(`${final}/${a.path}`);
          if (!now?.isFile()) continue;
          st = now;
        }
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
   * 512 KiB data took 64 MiB on disk once a steady update rewrote it in a recycled tree). A file of
   * one chunk is written whole, zeros too, however it is made (placeWrites): not one of them.
   */
  private sparseFiles(): Set<string> {
    const { content, actions } = this.need();
    const out = new Set<string>();
    // Actions are the release's files, in the same order (planFiles).
    actions.forEach((a, i) => {
      const f = content.files[i];
      if (a.kind === 'write' && !isOneChunk(a.size) && f?.path === a.path && f.file.chunks.some(isZeroRun)) out.add(a.path);
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
    const placed = await placeWrites(this.dir, this.writes(), this.aliases(), { mayExist, anew: this.sparseFiles(), atWrite: { owner: ownerOf(this.opts) } });
    await placeAliases(this.dir, this.aliases());
    await this.intake.settle(recorded, placed);
  }

  /**
   * Written files are checked at lstat speed before they become a release: a file that is gone,
   * of the wrong size or shared with something outside the tree was tampered with under staging.
   * Returns the states found of the files whose write gave them their metadata: nothing changes
   * them from here on, so these are the release's (the inode map and cache take them, not a
   * second lstat: 20,000 calls of a cold staging of 20,000 small files).
   */
  private async repairWrites(): Promise<WrittenStates> {
    const aliasesOf = new Map<string, number>();
    for (const a of this.aliases()) aliasesOf.set(a.of, (aliasesOf.get(a.of) ?? 0) + 1);
    const writes = this.writes();
    const whole = new WrittenStates(writes.length);
    const bad = writes.filter((a, i) => {
      const st = lstatSyncOrNull(`${this.dir}/${a.path}`);
      if (!st?.isFile() || st.size !== a.size || st.nlink !== 1 + (aliasesOf.get(a.path) ?? 0)) return true;
      if (this.intake.metaGiven.has(a.path)) whole.set(i, st);
      return false;
    });
    if (bad.length === 0) return whole;
    const paths = new Set(bad.map((a) => a.path));
    const placed = await placeWrites(this.dir, bad, this.aliases());
    await placeAliases(this.dir, this.aliases());
    await this.intake.refill(paths, placed);
    const missing = this.missing().length;
    if (missing > 0) {
      throw new ChunkswarmError(
        'E_HASH_MISMATCH',
        `${[...paths].join(', ')} changed under ${this.dir} while release ${this.version} was staged; ${missing} pieces must be fetched again`,
      );
    }
    return whole;
  }
}

/** States of files, by their position among a plan's writes: five numbers each, not an object (10^5 files). */
class WrittenStates {
  private readonly values: Float64Array;

  constructor(n: number) {
    this.values = new Float64Array(n * 5).fill(Number.NaN);
  }

  set(i: number, st: InodeStat): void {
    this.values.set([st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs], i * 5);
  }

  get(i: number): InodeStat | null {
    const v = this.values;
    const at = i * 5;
    return Number.isNaN(v[at]) ? null : { dev: v[at]!, ino: v[at + 1]!, size: v[at + 2]!, mtimeMs: v[at + 3]!, ctimeMs: v[at + 4]! };
  }
}
