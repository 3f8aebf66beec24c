import { constants, fstatSync, readSync } from 'node:fs';
import { ChunkswarmError, isChunkswarmError } from '../core/index.js';
import { hashBytes, walkTree } from '../manifest/index.js';
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
  /**
   * A chunk asked for that no retained release holds (a peer is then refused the piece). `why`
   * names what each known location gave and which releases were looked into.
   */
  onMissing?: (hash: string, why: string) => void;
}

/** "dev:ino" of a file: how drifted files are named, so every hard link of an edited inode is skipped. */
export function inodeKey(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

/** Inode numbers and devices up to these make one exact number (2^32 * 2^20 < 2^53). */
const INO_LIMIT = 2 ** 32;
const DEV_LIMIT = 2 ** 20;

/**
 * One key per inode for maps and sets held in memory: a number where it fits one (no string is
 * made and hashed per file, 10^5 of them per check of a large tree), else inodeKey.
 */
export function inodeId(st: { dev: number; ino: number }): number | string {
  return st.ino < INO_LIMIT && st.dev < DEV_LIMIT ? st.dev * INO_LIMIT + st.ino : inodeKey(st);
}

/**
 * Releases indexed at once. An index holds a location per chunk (10^5 at 10^5 files); the newest
 * release answers nearly every lookup, and a node keeps `releases.keep` of them (a publisher
 * upgraded from before it kept them, all it ever made): indexing each one it ever looked into grew
 * without end. The least recently used other than the newest is forgotten (and indexed again if a
 * lookup needs it).
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
  /**
   * Versions being indexed now: a lookup waits for them instead of finding them half done. Their
   * locations join byHash only once the walk is whole, so an eviction or a failure meanwhile
   * cannot leave a release counted as indexed with part of its chunks.
   */
  private readonly indexing = new Map<number, Promise<void>>();
  /** Versions dropped while being indexed: their walk ends without adding anything. */
  private readonly dropped = new Set<number>();
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
    this.dropped.delete(version);
    const work = this.index(version).finally(() => {
      this.indexing.delete(version);
      this.dropped.delete(version);
    });
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
    const base = releases.releasePath(version);
    // From the release's pack where it has one: 10^5 object files read one by one cost seconds.
    objects.loadPack(root);
    const under = `${base}/`;
    const found = new Map<string, ChunkLocation[]>();
    // A file object's chunks are all in any one of its copies; one location per object per release is enough.
    const seen = new Set<string>();
    await walkTree(root, (h) => objects.getTree(h), async (path, entry) => {
      if (entry.type !== 'file' || seen.has(entry.hash!)) return;
      seen.add(entry.hash!);
      // One string for all of a file's chunks (join() made one per chunk), and one that shares its
      // parts with the walk's path instead of a copy of ~100 bytes (10^5 files, two releases).
      const abs = `${under}${path}`;
      let offset = 0;
      for (const c of (await objects.getFile(entry.hash!)).chunks) {
        const locs = found.get(c.hash);
        // A chunk a file repeats (a run of zeros: a sparse file's holes, thousands of chunks) is
        // located once in it: an edit of the file taints every place at once anyway.
        if (locs === undefined) found.set(c.hash, [{ path: abs, offset, size: c.size, version }]);
        else if (locs[locs.length - 1]!.path !== abs) locs.push({ path: abs, offset, size: c.size, version });
        offset += c.size;
      }
    });
    if (this.dropped.has(version)) return;
    for (const [hash, locs] of found) {
      const list = this.byHash.get(hash);
      // One merge per chunk (a copy per location added was quadratic in a chunk's copies: a node
      // indexing a release with a 5 GiB sparse file spun for minutes). Arrays of the exact size:
      // one grown by push keeps room for 16 more locations, and most chunks are in two indexed
      // releases (~120 bytes each, 10^5 chunks).
      this.byHash.set(hash, list ? list.concat(locs) : locs.length === 1 ? locs : locs.slice());
    }
    this.indexed.add(version);
    // The newest release stays: peers ask for its pieces, and a lookup that had to index an
    // older one would otherwise evict it under the lookups waiting for it.
    const newest = Math.max(...this.indexed);
    for (const old of this.indexed) {
      if (this.indexed.size <= MAX_INDEXED) break;
      if (old !== version && old !== newest) this.dropRelease(old);
    }
  }

  /** Forgets a release whose tree is being deleted (one being indexed is never added). */
  dropRelease(version: number): void {
    if (this.indexing.has(version)) this.dropped.add(version);
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

  /** Places the index knows for a chunk now: a file's repeats of it count once. */
  locationCount(hash: string): number {
    return this.locations(hash).length;
  }

  /**
   * The chunk's bytes from the first location that still hashes right, or null. `into` (the
   * chunk's size) receives them, so that a piece is read into one buffer without a copy. When no
   * known location answers, the releases not indexed yet are: another process (`publish`, `gc`)
   * may have removed or recycled the tree that the known locations were in, while a retained
   * release still holds the chunk.
   */
  async readChunk(hash: string, into?: Uint8Array): Promise<Uint8Array | null> {
    const misses: string[] = [];
    const known = this.readKnown(hash, into, misses);
    if (known) return known;
    const retained = (await this.opts.releases.materialized()).reverse();
    // Known locations are tried again after every wait: another lookup may have indexed the
    // release that holds the chunk meanwhile, and indexing an older one next could evict it (a
    // piece of a new release refused to peers, a 10 s stall of bench:seed's updates).
    for (const v of retained) {
      const found = this.readKnown(hash, into, misses);
      if (found) return found;
      if (!this.indexed.has(v)) await this.ensureRelease(v);
    }
    const late = this.readKnown(hash, into, misses);
    if (late) return late;
    const tried = [...new Set(misses)];
    const where = tried.length === 0 ? 'no known location' : tried.slice(0, 3).join(', ') + (tried.length > 3 ? ` and ${tried.length - 3} more` : '');
    this.opts.onMissing?.(hash, `${where}; retained releases [${retained.join(', ')}], indexed [${[...this.indexed].join(', ')}]`);
    return null;
  }

  /**
   * A location whose bytes were edited is forgotten and reported; one gone for now is skipped.
   * `misses` collects why each location failed.
   */
  private readKnown(hash: string, into: Uint8Array | undefined, misses: string[]): Uint8Array | null {
    for (const loc of [...this.locations(hash)]) {
      const bytes = this.readAt(loc, into);
      if (typeof bytes === 'string') {
        misses.push(`${loc.path}: ${bytes}`);
        continue;
      }
      if (hashBytes(bytes) === hash) {
        this.touch(loc.version);
        return bytes;
      }
      misses.push(`${loc.path}: edited`);
      this.files.drop(loc.path);
      this.forget(hash, loc);
      this.tampered++;
      this.opts.onTampered?.(loc, hash);
    }
    return null;
  }

  /**
   * The bytes, or why not: the file is gone, shorter than the index says, or drifted. Synchronous
   * on purpose: this runs once per chunk served, and the promise API's round trips through the
   * thread pool cost several times the syscalls on a page-cache hit (bench/transfer). A file that
   * fails is closed, so that the next read opens whatever is at its path now (a restored copy, say).
   */
  private readAt(loc: ChunkLocation, into?: Uint8Array): Uint8Array | 'gone' | 'drifted' | 'short' {
    let why: 'drifted' | 'short';
    try {
      const file = this.files.get(loc.path);
      file.inode ??= inodeKey(fstatSync(file.fd));
      const buf = into ?? Buffer.allocUnsafe(loc.size);
      if (this.tainted.has(file.inode)) why = 'drifted';
      else if (readSync(file.fd, buf, 0, loc.size, loc.offset) === loc.size) return buf;
      else why = 'short';
    } catch (err) {
      this.files.drop(loc.path);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return 'gone';
      throw ChunkswarmError.fromSystem(err, `reading a chunk from ${loc.path}`);
    }
    this.files.drop(loc.path);
    return why;
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
