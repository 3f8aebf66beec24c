import { createHash } from 'node:crypto';
import { constants, fstatSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError, isChunkswarmError } from '../core/index.js';
import { walkTree } from '../manifest/index.js';
import type { ObjectStore } from './object-store.js';
import { OpenFiles } from './open-files.js';
import type { ReleaseStore } from './release-store.js';

export interface ChunkLocation {
  /** Absolute path of a file of a materialized release. */
  path: string;
  offset: number;
  size: number;
  version: number;
}

export interface ChunkIndexOptions {
  releases: ReleaseStore;
  objects: ObjectStore;
  /** A location whose bytes no longer hash to the chunk: the file was edited on disk. */
  onTampered?: (location: ChunkLocation, expected: string) => void;
  /** A chunk asked for that no retained release holds (a peer is then refused the piece). */
  onMissing?: (hash: string, locationsTried: number) => void;
}

/** "dev:ino" of a file: how drifted files are named, so every hard link of an edited inode is skipped. */
export function inodeKey(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

/**
 * Releases indexed at once. An index holds a location per chunk (10^5 at 10^5 files); the newest
 * release answers nearly every lookup, and a node keeps `releases.keep` of them (a publisher
 * upgraded from before it kept them, all it ever made): indexing each one it ever looked into grew
 * without end. The least recently used is forgotten (and indexed again if a lookup needs it).
 */
const MAX_INDEXED = 2;

/**
 * chunk hash -> where its bytes lie in the files of retained releases (DESIGN.md: the releases ARE
 * the chunk store). Releases are indexed lazily, newest first, on the first lookup that needs them.
 * Every read is re-hashed: a location that no longer matches is dropped and reported, so bytes
 * edited on disk are never returned, whatever the index believed.
 */
export class ChunkIndex {
  private readonly byHash = new Map<string, ChunkLocation[]>();
  /** Indexed versions, least recently used first. */
  private readonly indexed = new Set<number>();
  /** Versions being indexed now: a lookup waits for them instead of finding them half done. */
  private readonly indexing = new Map<number, Promise<void>>();
  private readonly tainted = new Set<string>();
  /** Consecutive chunks of a piece are mostly in one file: it stays open across them. */
  private readonly files = new OpenFiles(constants.O_RDONLY | constants.O_NOFOLLOW);
  /** Locations found edited since this index was made. */
  tampered = 0;

  constructor(private readonly opts: ChunkIndexOptions) {}

  /** Files with these inodes ("dev:ino", see inodeKey) are never read: they drifted. */
  taint(inodes: Iterable<string>): void {
    for (const k of inodes) this.tainted.add(k);
  }

  isTainted(inode: string): boolean {
    return this.tainted.has(inode);
  }

  /** Indexes one materialized release (once). A version without a stored head is ignored. */
  ensureRelease(version: number): Promise<void> {
    const inFlight = this.indexing.get(version);
    if (inFlight) return inFlight;
    if (this.indexed.has(version)) return Promise.resolve();
    const work = this.index(version).finally(() => this.indexing.delete(version));
    this.indexing.set(version, work);
    return work;
  }

  private async index(version: number): Promise<void> {
    const { releases, objects } = this.opts;
    let root;
    try {
      root = (await releases.head(version)).body.root;
    } catch (err) {
      if (isChunkswarmError(err, 'E_NOT_FOUND')) return;
      throw err;
    }
    this.indexed.add(version);
    for (const old of this.indexed) {
      if (this.indexed.size <= MAX_INDEXED) break;
      if (old !== version) this.dropRelease(old);
    }
    const base = releases.releasePath(version);
    // From the release's pack where it has one: 10^5 object files read one by one cost seconds.
    objects.loadPack(root);
    // A file object's chunks are all in any one of its copies; one location per object per release is enough.
    const seen = new Set<string>();
    await walkTree(root, (h) => objects.getTree(h), async (path, entry) => {
      if (entry.type !== 'file' || seen.has(entry.hash!)) return;
      seen.add(entry.hash!);
      let offset = 0;
      for (const c of (await objects.getFile(entry.hash!)).chunks) {
        const loc: ChunkLocation = { path: join(base, path), offset, size: c.size, version };
        const list = this.byHash.get(c.hash);
        if (list) list.push(loc);
        else this.byHash.set(c.hash, [loc]);
        offset += c.size;
      }
    });
  }

  /** Forgets a release whose tree is being deleted. */
  dropRelease(version: number): void {
    if (!this.indexed.delete(version)) return;
    this.files.dropUnder(this.opts.releases.releasePath(version));
    for (const [hash, list] of this.byHash) {
      const kept = list.filter((l) => l.version !== version);
      if (kept.length === 0) this.byHash.delete(hash);
      else if (kept.length !== list.length) this.byHash.set(hash, kept);
    }
  }

  private locations(hash: string): readonly ChunkLocation[] {
    return this.byHash.get(hash) ?? [];
  }

  /**
   * The chunk's bytes from the first location that still hashes right, or null. `into` (the
   * chunk's size) receives them, so that a piece is read into one buffer without a copy. When no
   * known location answers, the releases not indexed yet are: another process (`publish`, `gc`)
   * may have removed or recycled the tree that the known locations were in, while a retained
   * release still holds the chunk.
   */
  async readChunk(hash: string, into?: Uint8Array): Promise<Uint8Array | null> {
    const tried = this.locations(hash).length;
    const known = this.readKnown(hash, into);
    if (known) return known;
    for (const v of (await this.opts.releases.materialized()).reverse()) {
      // A release being indexed counts as indexed at once (for eviction): wait for it, as a
      // request for a new release's piece comes with others for it (one skipped it, and a piece
      // the publisher alone held was refused, a 10 s stall in bench:seed's updates).
      if (this.indexed.has(v) && !this.indexing.has(v)) continue;
      await this.ensureRelease(v);
      const found = this.readKnown(hash, into);
      if (found) return found;
    }
    // Another lookup may have finished indexing a release while this one awaited the list.
    const late = this.readKnown(hash, into);
    if (late) return late;
    this.opts.onMissing?.(hash, tried);
    return null;
  }

  /** A location whose bytes were edited is forgotten and reported; one gone for now is skipped. */
  private readKnown(hash: string, into?: Uint8Array): Uint8Array | null {
    for (const loc of [...this.locations(hash)]) {
      const bytes = this.readAt(loc, into);
      if (bytes === null) continue;
      if (createHash('sha256').update(bytes).digest('hex') === hash) {
        this.touch(loc.version);
        return bytes;
      }
      this.files.drop(loc.path);
      this.forget(hash, loc);
      this.tampered++;
      this.opts.onTampered?.(loc, hash);
    }
    return null;
  }

  /**
   * null when the file is gone, shorter than the index says, or drifted. Synchronous on purpose:
   * this runs once per chunk served, and the promise API's round trips through the thread pool
   * cost several times the syscalls on a page-cache hit (bench/transfer). A file that fails is
   * closed, so that the next read opens whatever is at its path now (a restored copy, say).
   */
  private readAt(loc: ChunkLocation, into?: Uint8Array): Uint8Array | null {
    try {
      const file = this.files.get(loc.path);
      file.inode ??= inodeKey(fstatSync(file.fd));
      const buf = into ?? Buffer.allocUnsafe(loc.size);
      if (!this.tainted.has(file.inode) && readSync(file.fd, buf, 0, loc.size, loc.offset) === loc.size) return buf;
    } catch (err) {
      this.files.drop(loc.path);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return null;
      throw ChunkswarmError.fromSystem(err, `reading a chunk from ${loc.path}`);
    }
    this.files.drop(loc.path);
    return null;
  }

  private touch(version: number): void {
    if (this.indexed.delete(version)) this.indexed.add(version);
  }

  private forget(hash: string, loc: ChunkLocation): void {
    const kept = this.locations(hash).filter((l) => l !== loc);
    if (kept.length === 0) this.byHash.delete(hash);
    else this.byHash.set(hash, kept);
  }
}
