import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ObjectHash } from '../core/index.js';
import { PathLookup, type FileObject } from '../manifest/index.js';
import type { ObjectStore, StatCache } from '../store/index.js';
import { copyUnlessSame, SMALL, type CopyResult } from './copy-and-hash.js';
import { copySmallFiles, copyThreads } from './copy-workers.js';
import type { ScannedFile, ScanResult } from './scan-source.js';

/** Files hashed at once: the copies overlap reads and writes of different files. */
const CONCURRENCY = 4;

export interface HashedTree {
  /** The file object hash of every file, by path (members of an in-tree hard-link group share their first member's). */
  fileHashes: Map<string, ObjectHash>;
  /** Paths copied into the staging tree while they were hashed: what was hashed is what was copied. */
  copied: Set<string>;
  hashedFiles: number;
  hashedBytes: number;
  /** Seconds spent copying and hashing. */
  seconds: number;
}

/**
 * Hashes the files the stat cache cannot vouch for, copying each into `staging` in the same read,
 * and records them in the cache. Only a group's first member of an in-tree hard link is read.
 * A file of the same size as the previous release's at its path is copied only where its content
 * differs (copyUnlessSame): a cold stat cache (a source moved or restored, a `chmod -R`) would
 * otherwise copy every file, then unlink each copy for the previous release's inode (42 s instead
 * of 2–3 s for 50,000 unchanged files in bench:deploy's tree).
 */
export async function hashChanged(o: {
  scan: ScanResult;
  source: string;
  staging: string;
  objects: ObjectStore;
  cache: StatCache;
  /** Files changed after this (ms since the epoch) are hashed but not remembered (see StatCache.set). */
  racyBeforeMs: number;
  /** The root of the previous release, whose files most cache misses still are. */
  previous: ObjectHash | null;
  /** publisher.copyThreads: worker threads for the small files (null: copyThreads decides). */
  copyThreads?: number | null;
  onProgress?: (filesDone: number, filesTotal: number, bytesDone: number) => void;
}): Promise<HashedTree> {
  const first = new Map<number, ScannedFile>();
  for (const f of o.scan.files) if (f.link !== undefined && !first.has(f.link)) first.set(f.link, f);
  const leaders = o.scan.files.filter((f) => f.link === undefined || first.get(f.link) === f);
  const fileHashes = new Map<string, ObjectHash>();
  const toHash: ScannedFile[] = [];
  for (const f of leaders) {
    const hit = o.cache.lookup(f.path, f.stat);
    if (hit) fileHashes.set(f.path, hit);
    else toHash.push(f);
  }
  // The directories of the files that may be copied (those found unchanged by hash get none
  // copied; an empty directory left is harmless), made before any copy starts.
  const parents = new Set(toHash.map((f) => dirname(f.path)));
  for (const d of parents) mkdirSync(join(o.staging, d), { recursive: true, mode: 0o700 });
  const started = performance.now();
  const progress = { files: 0, bytes: 0 };
  const before = o.previous === null ? null : new PathLookup(o.previous, (h) => o.objects.getTree(h));
  /** The previous release's file at the path, if it is the same size: what the file most likely still is. */
  const previousFile = async (f: ScannedFile): Promise<{ hash: ObjectHash; file: FileObject } | null> => {
    const prev = await before?.entry(f.path);
    if (prev?.type !== 'file') return null;
    const file = await o.objects.getFile(prev.hash!);
    return file.size === f.stat.size ? { hash: prev.hash!, file } : null;
  };
  const record = async (f: ScannedFile, prev: { hash: ObjectHash } | null, { file, copied }: CopyResult) => {
    const hash = copied ? await o.objects.put(file) : prev!.hash;
    o.cache.set(f.path, f.stat, hash, o.racyBeforeMs);
    progress.files++;
    progress.bytes += file.size;
    o.onProgress?.(progress.files, toHash.length, progress.bytes);
    return { path: f.path, hash, size: file.size, copied };
  };
  const small = toHash.filter((f) => f.stat.size < SMALL);
  const threads = copyThreads(small.length, o.copyThreads ?? null);
  const results: Array<Awaited<ReturnType<typeof record>>> = [];
  // What the main thread copies alone, through the pool below: everything, or, with copy threads,
  // the large files and any small one that grew past the small size since the scan.
  const rest = threads > 0 ? toHash.filter((f) => f.stat.size >= SMALL) : toHash;
  if (threads > 0) {
    const previous: Array<{ hash: ObjectHash; file: FileObject } | null> = [];
    for (const f of small) previous.push(await previousFile(f));
    const jobs = small.map((f, k) => ({ src: join(o.source, f.path), dest: join(o.staging, f.path), displayPath: f.path, previous: previous[k]?.file ?? null }));
    await copySmallFiles(jobs, threads, async (k, done) => {
      if (done) results.push(await record(small[k]!, previous[k] ?? null, done));
      else rest.push(small[k]!);
    });
  }
  results.push(...(await pool(rest, CONCURRENCY, async (f) => {
    const prev = await previousFile(f);
    return record(f, prev, await copyUnlessSame(join(o.source, f.path), join(o.staging, f.path), f.path, prev?.file ?? null));
  })));
  for (const r of results) fileHashes.set(r.path, r.hash);
  for (const f of o.scan.files) if (!fileHashes.has(f.path)) fileHashes.set(f.path, fileHashes.get(first.get(f.link!)!.path)!);
  return {
    fileHashes,
    copied: new Set(results.filter((r) => r.copied).map((r) => r.path)),
    hashedFiles: results.length,
    hashedBytes: results.reduce((n, r) => n + r.size, 0),
    seconds: (performance.now() - started) / 1000,
  };
}

/** Runs `fn` over `items`, `limit` at a time; results in the items' order. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
