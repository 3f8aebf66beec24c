import {
  chmodSync, closeSync, constants, fchmodSync, fchownSync, ftruncateSync, futimesSync, lstatSync, mkdirSync, openSync, readlinkSync, readSync, symlinkSync, unlinkSync,
  writeSync, writevSync, type Stats,
} from 'node:fs';
import { lstat } from 'node:fs/promises';
import { ChunkswarmError } from '../core/index.js';
import { hashBytes } from '../manifest/index.js';
import { removeTree, type OpenFiles } from '../store/index.js';

/**
 * File operations of staging. None of them follows a symlink: a symlink found where staging
 * expects a directory or a file is either refused or removed, never written through.
 *
 * Most are synchronous on purpose: staging makes one to three calls per file of a release of up
 * to 10^5 files, and a trip through the libuv thread pool costs several times the call itself
 * (bench/deploy). Loops over files hand the event loop back now and then (yieldEvery).
 */

const NOFOLLOW = constants.O_NOFOLLOW;

/** The release path of a path's directory ('' for the root). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Whether this process runs as root: it alone can chown, and file modes do not bind it. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Whether recorded uid/gid are applied: by default only as root, the one user that can chown. */
export function ownerOf(opts: { owner?: boolean }): boolean {
  return opts.owner ?? isRoot();
}

/**
 * Whether a long loop of synchronous steps lets the event loop run now (a node keeps serving its
 * peers): once every `every` steps. Written `if (turnDue(++n)) await nextTurn();` so that the other
 * steps take no promise and no await: one each for 10^5 files was tens of ms per pass.
 */
export function turnDue(step: number, every = 1024): boolean {
  return step % every === 0;
}

export function nextTurn(): Promise<void> {
  return new Promise<void>((r) => setImmediate(r));
}

export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  }
}

export function lstatSyncOrNull(path: string): Stats | null {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) ?? null;
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  }
}

/**
 * mkdir that reuses only a real directory, which it makes writable for us. Anything else in its
 * place is refused, or removed with `replace` (a recycled release's own file or symlink). True if
 * it created it. Root writes into a read-only directory as it is: a chmod would move the
 * directory's ctime, and with it the inode cache's word that the directory holds its tree's names
 * (InodeCache.holdsTree), which spares the next check of a recycled tree a listing.
 */
export function ensureDir(path: string, replace = false): boolean {
  let st = lstatSyncOrNull(path);
  if (st !== null && !st.isDirectory()) {
    if (!replace) {
      throw ChunkswarmError.unsafePath(path, `expected a directory in the staging area, found a ${kindOf(st)}; refusing to write through it`);
    }
    try {
      unlinkSync(path);
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `removing ${path}`);
    }
    st = null;
  }
  try {
    if (st === null) mkdirSync(path, { mode: 0o700 });
    else grantOwner(path, st, 0o700);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `creating directory ${path}`);
  }
  return st === null;
}

/**
 * Gives the owner of `path` the permission `bits` it lacks: a release's inodes are read-only (see
 * onDiskMode), and a node that is not root could not write into them otherwise. Root, whom modes
 * do not bind, changes nothing (a chmod moves the ctime the inode cache goes by). Throws as chmod.
 */
export function grantOwner(path: string, st: Pick<Stats, 'mode'>, bits: number): void {
  if ((st.mode & bits) === bits || isRoot()) return;
  chmodSync(path, (st.mode & 0o7777) | bits);
}

export function kindOf(st: Pick<Stats, 'isFile' | 'isDirectory' | 'isSymbolicLink'>): string {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  return 'special file';
}

/** Removes whatever is at path (a directory with its contents); never follows a symlink. */
export async function removeAny(path: string, st?: Stats | null): Promise<void> {
  const s = st === undefined ? lstatSyncOrNull(path) : st;
  if (s === null) return;
  if (s.isDirectory()) return removeTree(path);
  try {
    unlinkSync(path);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `removing ${path}`);
  }
}

/** A new file of `size` bytes (sparse until written): staging then writes chunks at their offsets. */
export function createSized(path: string, size: number): void {
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
    try {
      if (size > 0) ftruncateSync(fd, size);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `creating ${path}`);
  }
}

/** Bytes to write at an offset of a file. */
export interface PlacedBytes {
  bytes: Uint8Array;
  offset: number;
}

/**
 * Writes each run of bytes at its offset of one file, through a descriptor `files` keeps open
 * (opened O_WRONLY | O_NOFOLLOW); runs that follow each other on disk go in one writev.
 */
export function writeAt(files: OpenFiles, path: string, writes: readonly PlacedBytes[]): void {
  try {
    writeRuns(files.get(path).fd, writes);
  } catch (err) {
    files.drop(path);
    throw ChunkswarmError.fromSystem(err, `writing ${path}`);
  }
}

/** What a file written whole is given through its descriptor (see createWhole). */
export interface FileMeta {
  /** The mode on disk (onDiskMode). */
  mode: number;
  mtimeMs: number;
  /** Applied only when set (as root: see ownerOf). */
  owner: { uid: number; gid: number } | null;
}

/**
 * A new file made whole at once: created, written, given its owner, mode and mtime through the
 * descriptor, closed. A small file of a cold staging took nine calls, six of them by path (made,
 * opened again for its piece, chmod, utimes, two lstats): 0.91 CPU-s per 20,000 files of 1.5 KB
 * on ext4 here, 0.68 s this way (medians of eight runs). Something at the path (a write of it
 * that failed half-way) is replaced.
 */
export function createWhole(path: string, writes: readonly PlacedBytes[], meta: FileMeta): void {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW;
  let fd: number | null = null;
  try {
    try {
      fd = openSync(path, flags, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      unlinkSync(path);
      fd = openSync(path, flags, 0o600);
    }
    writeRuns(fd, writes);
    if (meta.owner) fchownSync(fd, meta.owner.uid, meta.owner.gid);
    fchmodSync(fd, meta.mode);
    futimesSync(fd, meta.mtimeMs / 1000, meta.mtimeMs / 1000);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `writing ${path}`);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Runs of bytes that follow each other on disk go in one writev. */
function writeRuns(fd: number, writes: readonly PlacedBytes[]): void {
  for (let i = 0; i < writes.length; ) {
    const offset = writes[i]!.offset;
    const run: Uint8Array[] = [];
    let end = offset;
    for (; i < writes.length && writes[i]!.offset === end; i++) {
      run.push(writes[i]!.bytes);
      end += writes[i]!.bytes.length;
    }
    writeRun(fd, run, offset);
  }
}

/** One writev; a short write (a disk filling up) goes on buffer by buffer, so that its error is thrown. */
function writeRun(fd: number, run: Uint8Array[], offset: number): void {
  let done = run.length === 1 ? writeSync(fd, run[0]!, 0, run[0]!.length, offset) : writevSync(fd, run, offset);
  for (const b of run) {
    if (done >= b.length) {
      done -= b.length;
      offset += b.length;
      continue;
    }
    for (let at = done; at < b.length; ) at += writeSync(fd, b, at, b.length - at, offset + at);
    offset += b.length;
    done = 0;
  }
}

/**
 * `size` bytes at `offset` if they hash to `hash`, else null (missing, short or different).
 * `via.files`: the descriptor comes from (and stays in) that cache, dropped if the read fails;
 * `via.into` (`size` bytes) receives the bytes, so that a piece is read into one buffer.
 */
export function readVerified(path: string, offset: number, size: number, hash: string, via: { files?: OpenFiles; into?: Uint8Array } = {}): Uint8Array | null {
  let fd: number;
  try {
    fd = via.files ? via.files.get(path).fd : openSync(path, constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return null;
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  }
  let good = false;
  try {
    const buf = via.into ?? Buffer.allocUnsafe(size);
    const bytesRead = size === 0 ? 0 : readSync(fd, buf, 0, size, offset);
    good = bytesRead === size && hashBytes(buf) === hash;
    return good ? buf : null;
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  } finally {
    if (!via.files) closeSync(fd);
    else if (!good) via.files.drop(path);
  }
}

/** Creates or keeps a symlink with exactly this target. */
export async function placeSymlink(path: string, target: string): Promise<void> {
  const st = lstatSyncOrNull(path);
  if (st?.isSymbolicLink() && readlinkSync(path) === target) return;
  await removeAny(path, st);
  try {
    symlinkSync(target, path);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `creating symlink ${path}`);
  }
}
