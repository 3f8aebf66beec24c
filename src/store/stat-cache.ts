import { readFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { atomicWrite } from './atomic-write.js';

export interface StatKey {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

interface Entry extends StatKey {
  hash: ObjectHash;
}

/**
 * path -> (stat fingerprint, file object hash). A file whose lstat matches its fingerprint is
 * taken as unchanged without reading it, so re-scanning an unchanged tree costs one lstat a file.
 */
export class StatCache {
  private entries = new Map<string, Entry>();
  private dirty = false;

  constructor(private readonly path: string) {}

  static keyOf(st: Stats): StatKey {
    return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
  }

  async load(): Promise<this> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this;
      throw ChunkswarmError.fromSystem(err, `reading stat cache ${this.path}`);
    }
    try {
      this.entries = new Map(Object.entries(JSON.parse(text) as Record<string, Entry>));
    } catch {
      // A damaged cache only costs a re-hash; never a reason to fail.
      this.entries = new Map();
      this.dirty = true;
    }
    return this;
  }

  lookup(path: string, key: StatKey): ObjectHash | null {
    const e = this.entries.get(path);
    if (!e) return null;
    return e.size === key.size && e.mtimeMs === key.mtimeMs && e.ctimeMs === key.ctimeMs && e.ino === key.ino
      ? e.hash
      : null;
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
    const old = this.entries.get(path);
    if (old && old.hash === hash && this.lookup(path, key)) return;
    this.entries.set(path, { ...key, hash });
    this.dirty = true;
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
    if (!this.dirty) return;
    await atomicWrite(this.path, JSON.stringify(Object.fromEntries(this.entries)));
    this.dirty = false;
  }
}
