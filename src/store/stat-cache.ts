import { constants } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { atomicWrite } from './atomic-write.js';

export interface StatKey {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/**
 * On disk: this header, then key NUL value NUL ... (a path cannot hold NUL), a value being
 * "size:mtimeMs:ctimeMs:ino:hash": a split and four numbers per entry to read, several times faster
 * than JSON for 10^5 entries. A save appends what changed since the last one as a batch: an empty
 * key with BEGIN, the pairs (an empty value deletes), an empty key with END. A batch without its END
 * (torn by a crash) is ignored: an update that links a dozen files appends a few hundred bytes
 * instead of rewriting the megabytes of a 10^5-file cache.
 */
const HEADER = 'chunkswarm-stat-cache 1\0';
const HEADER_BYTES = Buffer.from(HEADER, 'latin1');
const BEGIN = 'begin';
const END = 'end';
/** Appended batches may grow the file to twice its last full write (at least this much) before it is rewritten. */
const MIN_APPEND_BYTES = 64 << 10;

/** Numbers per entry in `nums`: size, mtimeMs, ctimeMs, ino. */
const FIELDS = 4;
const HASH_CHARS = 64;

/**
 * path -> (stat fingerprint, file object hash). A file whose lstat matches its fingerprint is
 * taken as unchanged without reading it, so re-scanning an unchanged tree costs one lstat a file.
 */
export class StatCache {
  /**
   * path -> slot. A slot's fingerprint is FIELDS numbers in `nums`, which a lookup compares:
   * building the fingerprint's string to compare it cost ~2 µs a file, more than the lstat, in
   * every quick verify and re-publish of 10^5 files. A save prints them again (valueOf).
   */
  private slots = new Map<string, number>();
  private nums = new Float64Array(FIELDS * 1024);
  private hashes: Array<ObjectHash | undefined> = [];
  private free: number[] = [];
  /** Paths set or deleted since the file was last written: what the next save appends. */
  private readonly changed = new Set<string>();
  /** The file must be written whole: there is none yet, or its end is not where a batch may start. */
  private rewrite = true;
  /** Bytes of the file as last read or written whole, and appended since. */
  private baseSize = 0;
  private appendedSize = 0;
  private saving: Promise<void> = Promise.resolve();

  /** `path` null: a cache that lives in memory only. */
  constructor(private readonly path: string | null) {}

  async load(): Promise<this> {
    if (this.path === null) return this;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this;
      throw ChunkswarmError.fromSystem(err, `reading stat cache ${this.path}`);
    }
    // A damaged cache (or one of another format) only costs a re-hash; never a reason to fail.
    this.slots = new Map();
    this.hashes = [];
    this.free = [];
    this.changed.clear();
    this.baseSize = bytes.length;
    this.appendedSize = 0;
    this.rewrite = true;
    if (!bytes.subarray(0, HEADER_BYTES.length).equals(HEADER_BYTES)) return this;
    // Each field is decoded on its own rather than split off the file's text: split's substrings
    // share that text, and the keys and hashes kept held all of it, superseded batches included
    // (25 MB of a 100,000-file follower's idle heap).
    let fields = 0;
    let terminated = true;
    let key: string | null = null;
    let keyAt = 0;
    let firstBatchAt: number | null = null;
    let batch: Array<[path: string, start: number, end: number]> | null = null;
    for (let at = HEADER_BYTES.length; at < bytes.length; fields++) {
      let end = bytes.indexOf(0, at);
      if (end < 0) {
        end = bytes.length;
        terminated = false;
      }
      if (key === null) {
        key = bytes.toString('utf8', at, end);
        keyAt = at;
      } else if (key === '') {
        const value = bytes.toString('latin1', at, end);
        if (value === END && batch !== null) for (const [path, from, to] of batch) this.apply(bytes, path, from, to);
        batch = value === BEGIN ? [] : null;
        if (value === BEGIN) firstBatchAt ??= keyAt;
        key = null;
      } else {
        if (batch !== null) batch.push([key, at, end]);
        else this.apply(bytes, key, at, end);
        key = null;
      }
      at = end + 1;
    }
    // Appending after a torn batch (or a file of the older layout) would misalign every pair after it.
    this.rewrite = !terminated || fields % 2 !== 0 || batch !== null;
    // The batches already there count against the file's whole write, as they did before the
    // restart: else each start would let them double the file again (a 100,000-file follower's
    // inode cache held twice its entries, and took twice as long to load).
    if (firstBatchAt !== null) {
      this.baseSize = firstBatchAt;
      this.appendedSize = bytes.length - firstBatchAt;
    }
    return this;
  }

  /** One pair of the file, its value bytes[start, end); one that is not a fingerprint and a hash (an empty one: deleted) leaves no entry. */
  private apply(bytes: Buffer, path: string, start: number, end: number): void {
    const value = bytes.toString('latin1', start, end);
    const c1 = value.indexOf(':');
    const c2 = value.indexOf(':', c1 + 1);
    const c3 = value.indexOf(':', c2 + 1);
    const c4 = value.indexOf(':', c3 + 1);
    // Number('') is 0: every field must hold a digit.
    if (c1 < 1 || c2 < c1 + 2 || c3 < c2 + 2 || c4 < c3 + 2 || value.length - c4 - 1 !== HASH_CHARS) {
      this.remove(path);
      return;
    }
    const slot = this.slotOf(path);
    const o = slot * FIELDS;
    const n = this.nums;
    n[o] = Number(value.slice(0, c1));
    n[o + 1] = Number(value.slice(c1 + 1, c2));
    n[o + 2] = Number(value.slice(c2 + 1, c3));
    n[o + 3] = Number(value.slice(c3 + 1, c4));
    // NaN never equals an lstat's number: such an entry never vouches.
    this.hashes[slot] = bytes.toString('latin1', end - HASH_CHARS, end) as ObjectHash;
  }

  lookup(path: string, key: StatKey): ObjectHash | null {
    const slot = this.slots.get(path);
    if (slot === undefined) return null;
    const n = this.nums;
    const o = slot * FIELDS;
    return n[o] === key.size && n[o + 1] === key.mtimeMs && n[o + 2] === key.ctimeMs && n[o + 3] === key.ino
      ? this.hashes[slot]!
      : null;
  }

  /**
   * `racyBeforeMs`: a file modified within the filesystem's timestamp granularity of the scan may
   * still change without moving its mtime, so such entries are not remembered (git's "racy" rule).
   */
  set(path: string, key: StatKey, hash: ObjectHash, racyBeforeMs = Infinity): void {
    if (key.mtimeMs >= racyBeforeMs || key.ctimeMs >= racyBeforeMs) return this.delete(path);
    if (this.lookup(path, key) === hash) return;
    this.put(path, key, hash);
    this.changed.add(path);
  }

  delete(path: string): void {
    if (this.remove(path)) this.changed.add(path);
  }

  /** Keeps only the paths in `live` (files that disappeared are forgotten). */
  retain(live: { has(path: string): boolean }): void {
    for (const p of this.slots.keys()) if (!live.has(p)) this.delete(p);
  }

  private put(path: string, key: StatKey, hash: ObjectHash): void {
    const slot = this.slotOf(path);
    const o = slot * FIELDS;
    this.nums[o] = key.size;
    this.nums[o + 1] = key.mtimeMs;
    this.nums[o + 2] = key.ctimeMs;
    this.nums[o + 3] = key.ino;
    this.hashes[slot] = hash;
  }

  /** The path's slot, a new one if it has none. */
  private slotOf(path: string): number {
    let slot = this.slots.get(path);
    if (slot !== undefined) return slot;
    slot = this.free.pop() ?? this.hashes.length;
    this.slots.set(path, slot);
    if ((slot + 1) * FIELDS > this.nums.length) {
      const grown = new Float64Array(this.nums.length * 2);
      grown.set(this.nums);
      this.nums = grown;
    }
    return slot;
  }

  private remove(path: string): boolean {
    const slot = this.slots.get(path);
    if (slot === undefined) return false;
    this.slots.delete(path);
    this.hashes[slot] = undefined;
    this.free.push(slot);
    return true;
  }

  /** The file's form of a path's entry ('' when it has none): numbers print as they were read. */
  private valueOf(path: string): string {
    const slot = this.slots.get(path);
    if (slot === undefined) return '';
    const n = this.nums;
    const o = slot * FIELDS;
    return `${n[o]}:${n[o + 1]}:${n[o + 2]}:${n[o + 3]}:${this.hashes[slot]!}`;
  }

  /** Appends what changed since the last save, or rewrites the file when appending would double it. */
  save(): Promise<void> {
    // One at a time: a batch appended while a rewrite is renamed into place would be lost.
    const run = this.saving.then(() => this.saveNow());
    this.saving = run.catch(() => undefined);
    return run;
  }

  private async saveNow(): Promise<void> {
    const path = this.path;
    if (path === null || (this.changed.size === 0 && !this.rewrite)) return;
    if (!this.rewrite) {
      let batch = `\0${BEGIN}\0`;
      for (const key of this.changed) batch += `${key}\0${this.valueOf(key)}\0`;
      batch += `\0${END}\0`;
      // Encoded once: its size in bytes is what counts against the file's.
      const bytes = Buffer.from(batch);
      if (this.appendedSize + bytes.length <= Math.max(this.baseSize, MIN_APPEND_BYTES)) {
        this.changed.clear();
        try {
          // Without O_CREAT: a batch alone, where the file was removed, would not be a cache.
          await appendFile(path, bytes, { flag: constants.O_WRONLY | constants.O_APPEND });
          this.appendedSize += bytes.length;
          return;
        } catch (err) {
          // What reached the file may be a torn batch: it is written whole, now or next time.
          this.rewrite = true;
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ChunkswarmError.fromSystem(err, `writing ${path}`);
        }
      }
    }
    let text = HEADER;
    for (const key of this.slots.keys()) text += `${key}\0${this.valueOf(key)}\0`;
    this.changed.clear();
    // Until it lands, what was just cleared is only in memory: a failed write is retried whole.
    this.rewrite = true;
    const bytes = Buffer.from(text);
    await atomicWrite(path, bytes);
    this.rewrite = false;
    this.baseSize = bytes.length;
    this.appendedSize = 0;
  }
}
