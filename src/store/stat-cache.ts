import { readFile } from 'node:fs/promises';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { atomicWrite } from './atomic-write.js';

export interface StatKey {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/**
 * On disk: this header, then key NUL value NUL ... (a path cannot hold NUL). Parsing it is a split,
 * several times faster than JSON for 10^5 entries.
 */
const HEADER = 'chunkswarm-stat-cache 1\0';

/** "size:mtimeMs:ctimeMs:ino:" — a string, so that a cache of 10^5 files parses fast and small. */
function fingerprint(k: StatKey): string {
  return `${k.size}:${k.mtimeMs}:${k.ctimeMs}:${k.ino}:`;
}

/**
 * path -> (stat fingerprint, file object hash). A file whose lstat matches its fingerprint is
 * taken as unchanged without reading it, so re-scanning an unchanged tree costs one lstat a file.
 */
export class StatCache {
  /**
   * path -> fingerprint + hash, as read. Kept as one string: parsed into numbers, 10^5 entries took
   * ~14 MB more of a node's heap for ~1 µs less per lookup.
   */
  private entries = new Map<string, string>();
  private dirty = false;

  /** `path` null: a cache that lives in memory only. */
  constructor(private readonly path: string | null) {}

  async load(): Promise<this> {
    if (this.path === null) return this;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this;
      throw ChunkswarmError.fromSystem(err, `reading stat cache ${this.path}`);
    }
    // A damaged cache (or one of another format) only costs a re-hash; never a reason to fail.
    this.entries = new Map();
    if (!text.startsWith(HEADER)) {
      this.dirty = true;
      return this;
    }
    const fields = text.slice(HEADER.length).split('\0');
    for (let i = 0; i + 1 < fields.length; i += 2) this.entries.set(fields[i]!, fields[i + 1]!);
    return this;
  }

  lookup(path: string, key: StatKey): ObjectHash | null {
    const e = this.entries.get(path);
    const fp = fingerprint(key);
    return e !== undefined && e.startsWith(fp) ? (e.slice(fp.length) as ObjectHash) : null;
  }

  /**
   * `racyBeforeMs`: a file modified within the filesystem's timestamp granularity of the scan may
   * still change without moving its mtime, so such entries are not remembered (git's "racy" rule).
   */
  set(path: string, key: StatKey, hash: ObjectHash, racyBeforeMs = Infinity): void {
    if (key.mtimeMs >= racyBeforeMs || key.ctimeMs >= racyBeforeMs) {
      if (this.entries.delete(path)) this.dirty = true;
      return;
    }
    const value = fingerprint(key) + hash;
    if (this.entries.get(path) === value) return;
    this.entries.set(path, value);
    this.dirty = true;
  }

  delete(path: string): void {
    if (this.entries.delete(path)) this.dirty = true;
  }

  /** Keeps only the paths in `live` (files that disappeared are forgotten). */
  retain(live: Set<string>): void {
    for (const p of this.entries.keys()) {
      if (!live.has(p)) {
        this.entries.delete(p);
        this.dirty = true;
      }
    }
  }

  async save(): Promise<void> {
    if (!this.dirty || this.path === null) return;
    const fields: string[] = [];
    for (const [key, value] of this.entries) fields.push(key, value);
    await atomicWrite(this.path, HEADER + fields.join('\0'));
    this.dirty = false;
  }
}
