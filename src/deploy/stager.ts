import { createHash } from 'node:crypto';
import { link } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError, isChunkswarmError, systemClock, type Clock, type ReleaseId } from '../core/index.js';
import { releaseId, type ChunkRef, type SignedRelease } from '../manifest/index.js';
import { inodeKey, removeTree, syncFilesystem, type ChunkIndex, type InodeCache, type ObjectStore, type ReleaseStore } from '../store/index.js';
import { collectCandidates } from './link-candidates.js';
import { planStage, type FileAction, type StagePlan } from './plan.js';
import { loadRelease, type ReleaseContent } from './release-files.js';
import { createSized, lstatOrNull, ownerOf, readVerified, removeAny, writeAt } from './stage-fs.js';
import { getBit, loadProgress, newBits, progressPath, removeProgress, saveProgress, setBit } from './stage-progress.js';
import { completeStage } from './stage-complete.js';
import { prepareStage } from './stage-prepare.js';

export interface StagerOptions {
  release: SignedRelease;
  releases: ReleaseStore;
  objects: ObjectStore;
  chunkIndex: ChunkIndex;
  /** What each inode of the releases was last verified to hold. */
  inodes: InodeCache;
  /** The version livePath points at: its (just verified) files are the preferred hard-link donors. */
  liveVersion: number | null;
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

/**
 * A release being assembled in staging/<v>/, and the piece store of its download: pieces are the
 * release's unique chunks in canonical order (releasePieces), the BitTorrent piece space.
 * open -> writePiece... -> complete; every step survives kill -9 (see open()).
 */
export class Stager {
  readonly version: number;
  readonly releaseId: ReleaseId;
  readonly pieces: readonly ChunkRef[];
  /** Where the tree is assembled; releases/<v> once complete (or if it already was). */
  dir: string;
  materialized: boolean;
  /** Pieces accepted by writePiece since open. */
  written = 0;
  /** Pieces copied from this node's own files since open. */
  copied = 0;
  /** @internal shared with stage-complete.ts */
  readonly tainted: Set<string>;
  private readonly done: Uint8Array;
  private pending = 0;
  private lastFlush: number;
  private flushChain: Promise<void> = Promise.resolve();
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly flushPieces: number;
  private readonly flushMs: number;
  private readonly clock: Clock;
  private pieceIndex: Map<string, number> | null = null;

  private constructor(
    readonly opts: StagerOptions,
    readonly content: ReleaseContent,
    readonly plan: StagePlan,
    materialized: boolean,
    tainted: Iterable<string>,
  ) {
    this.version = opts.release.body.version;
    this.releaseId = releaseId(opts.release.body);
    this.pieces = content.pieces;
    this.materialized = materialized;
    this.dir = materialized ? opts.releases.releasePath(this.version) : opts.releases.stagingPath(this.version);
    this.tainted = new Set(tainted);
    this.done = newBits(this.pieces.length);
    this.clock = opts.clock ?? systemClock;
    this.lastFlush = this.clock.now();
    this.flushPieces = opts.flushEvery?.pieces ?? 1024;
    this.flushMs = opts.flushEvery?.ms ?? 5000;
  }

  /**
   * Plans and prepares staging/<v>: directories, hard links of clean unchanged files, preallocated
   * files for the rest, and every piece a clean local file holds. A release already materialized
   * gives a complete Stager that serves its pieces. Resuming: pieces recorded in the progress file
   * are trusted (their bytes were flushed before they were recorded); files that cannot be trusted
   * (wrong size, shared inode, wrong type) are recreated and their pieces re-filled.
   */
  static async open(opts: StagerOptions): Promise<Stager> {
    const { release, releases, objects, chunkIndex } = opts;
    const version = release.body.version;
    const finalDir = releases.releasePath(version);
    const done = (await releases.materialized()).includes(version);
    const content = await loadRelease(release.body.root, objects, done ? finalDir : releases.stagingPath(version));
    if (done) {
      const plan = planStage({ files: content.files, pieces: content.pieces, candidates: new Map(), tainted: new Set(), hasLocal: () => true });
      const s = new Stager(opts, content, plan, true, []);
      s.pieces.forEach((_p, i) => setBit(s.done, i, true));
      return s;
    }
    const ppath = progressPath(releases, version);
    const progress = await loadProgress(ppath, releaseId(release.body), content.pieces.length);
    // No record at all: killed before the first flush, and what it wrote is checked (prepareStage).
    // A record that is not this release's means a staging area that is not either.
    if (progress === null && (await lstatOrNull(ppath)) !== null) await removeTree(releases.stagingPath(version), { cache: opts.inodes });
    const tainted = new Set([...(opts.tainted ?? []), ...(progress?.tainted ?? [])]);
    chunkIndex.taint(tainted);
    await chunkIndex.ensureAll();
    const candidates = await collectCandidates({
      releases, objects, liveVersion: opts.liveVersion, staging: version, tainted, owner: ownerOf(opts),
      wanted: new Set(content.files.map((f) => f.entry.hash!)),
    });
    const plan = planStage({ files: content.files, pieces: content.pieces, candidates, tainted, hasLocal: (h) => chunkIndex.has(h) });
    const s = new Stager(opts, content, plan, false, tainted);
    try {
      await prepareStage(s, progress?.done ?? null);
    } catch (err) {
      // Something not ours was planted in the staging area: start from scratch next time.
      if (isChunkswarmError(err, 'E_UNSAFE_PATH')) {
        await removeTree(s.dir, { cache: opts.inodes });
        await removeProgress(ppath);
      }
      throw err;
    }
    return s;
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
   * Verifies a piece from the network and writes it wherever its chunk occurs in the release.
   * Returns false if the piece was already there. E_HASH_MISMATCH: the bytes are not the piece.
   */
  async writePiece(index: number, bytes: Uint8Array): Promise<boolean> {
    const piece = this.pieceAt(index);
    if (getBit(this.done, index)) return false;
    const busy = this.inFlight.get(index);
    if (busy) {
      await busy;
      return false;
    }
    const got = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length !== piece.size || got !== piece.hash) throw ChunkswarmError.hashMismatch(`piece ${index}`, piece.hash, got);
    const work = this.store(index, bytes);
    this.inFlight.set(index, work);
    try {
      await work;
    } finally {
      this.inFlight.delete(index);
    }
    this.written++;
    if (this.pending >= this.flushPieces || this.clock.now() - this.lastFlush >= this.flushMs) await this.flush();
    return true;
  }

  /** A piece's bytes for a peer, read back from disk and re-hashed; null if absent or damaged. */
  async readPiece(index: number): Promise<Uint8Array | null> {
    const piece = this.pieceAt(index);
    if (!getBit(this.done, index)) return null;
    for (const slot of [...this.plan.writes[index]!, ...(this.plan.linkedAt[index] ? [this.plan.linkedAt[index]!] : [])]) {
      const bytes = await readVerified(join(this.dir, slot.path), slot.offset, piece.size, piece.hash);
      if (bytes) return bytes;
    }
    return null;
  }

  /** Makes every written piece durable, then records it (`force`: even if nothing was written). */
  flush(force = false): Promise<void> {
    // One failed flush (e.g. a full disk) must not fail every later one.
    this.flushChain = this.flushChain.catch(() => undefined).then(async () => {
      if (this.materialized || (this.pending === 0 && !force)) return;
      const snapshot = this.done.slice();
      const pending = this.pending;
      this.pending = 0;
      this.lastFlush = this.clock.now();
      try {
        await syncFilesystem(this.dir);
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

  /**
   * Verifies every staged file against its object, applies metadata, makes the tree read-only
   * and renames it to releases/<v>. A damaged file is re-assembled; if that needs pieces this node
   * does not have, it throws E_HASH_MISMATCH and missing() lists them again.
   */
  async complete(): Promise<string> {
    if (this.materialized) return this.dir;
    const missing = this.missing().length;
    if (missing > 0) {
      throw new ChunkswarmError('E_NOT_FOUND', `${missing} of ${this.pieces.length} pieces of release ${this.version} are not on this node yet`);
    }
    await this.flush();
    this.dir = await completeStage(this);
    this.materialized = true;
    return this.dir;
  }

  /** Flushes progress; the staging area stays for a later open(). */
  async close(): Promise<void> {
    await this.flush();
  }

  /** @internal: the piece's bytes from a staged slot or a clean local file (re-hashed), or null. */
  async localBytes(index: number): Promise<Uint8Array | null> {
    const piece = this.pieces[index]!;
    const slots = [...(getBit(this.done, index) ? this.plan.writes[index]! : []), ...(this.plan.linkedAt[index] ? [this.plan.linkedAt[index]!] : [])];
    for (const slot of slots) {
      const bytes = await readVerified(join(this.dir, slot.path), slot.offset, piece.size, piece.hash);
      if (bytes) return bytes;
    }
    return this.opts.chunkIndex.readChunk(piece.hash);
  }

  /** @internal: writes bytes at every slot of the piece and marks it done (recorded at the next flush). */
  async store(index: number, bytes: Uint8Array): Promise<void> {
    const byPath = new Map<string, number[]>();
    for (const s of this.plan.writes[index]!) byPath.set(s.path, [...(byPath.get(s.path) ?? []), s.offset]);
    for (const [path, offsets] of byPath) await writeAt(join(this.dir, path), bytes, offsets);
    setBit(this.done, index, true);
    this.pending++;
  }

  /** @internal */
  markDone(index: number): void {
    setBit(this.done, index, true);
  }

  /** @internal */
  markMissing(index: number): void {
    setBit(this.done, index, false);
    this.pending++;
  }

  /** @internal: (re)creates an assembled file as a new inode of its size (aliases: placeAliases()). */
  async recreate(action: FileAction): Promise<void> {
    await removeAny(join(this.dir, action.path));
    await createSized(join(this.dir, action.path), action.file.size);
  }

  /** @internal: members of a hard-link group after the first share its staged inode. */
  async placeAliases(): Promise<void> {
    for (const a of this.plan.files) {
      if (a.kind !== 'alias') continue;
      const abs = join(this.dir, a.path);
      const st = await lstatOrNull(abs);
      const leader = await lstatOrNull(join(this.dir, a.of));
      if (st && leader && inodeKey(st) === inodeKey(leader)) continue;
      await removeAny(abs, st);
      await link(join(this.dir, a.of), abs).catch((err) => {
        throw ChunkswarmError.fromSystem(err, `linking ${a.path}`);
      });
    }
  }

  /** @internal: re-fills a piece from staged or local bytes, or puts it back among the missing. */
  async refill(index: number): Promise<void> {
    const bytes = await this.localBytes(index);
    if (!bytes) return this.markMissing(index);
    await this.store(index, bytes);
    this.copied++;
  }

  private pieceAt(index: number): ChunkRef {
    const p = Number.isInteger(index) ? this.pieces[index] : undefined;
    if (!p) throw ChunkswarmError.usage(`piece ${index} is outside release ${this.version}'s ${this.pieces.length} pieces`);
    return p;
  }

  /** @internal */
  indexOf(hash: string): number {
    this.pieceIndex ??= new Map(this.pieces.map((p, i) => [p.hash as string, i]));
    const i = this.pieceIndex.get(hash) ?? -1;
    if (i < 0) throw ChunkswarmError.badObject(`chunk ${hash} is not a piece of release ${this.version}`);
    return i;
  }
}

function countBits(bits: Uint8Array): number {
  let n = 0;
  for (const b of bits) for (let x = b; x; x &= x - 1) n++;
  return n;
}
