import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ChunkswarmError } from './errors.js';

/** A small file read whole: `changed` if it grew past the size it had when opened, or its size, mtime or ctime moved while it was read. */
export interface SmallFile {
  bytes: Buffer;
  changed: boolean;
}

/**
 * A regular file of at most `limit` bytes, read whole with synchronous calls (through the thread
 * pool, a small file is four trips: open, read, read to the end, close); null for a larger one.
 * Opened without following a symlink and without blocking: a symlink or a fifo put where a file
 * was is refused (E_IO), not followed out of the tree or waited on by the event loop.
 * `what`: the file, as the messages of failed opens and reads name it.
 */
export function readSmallFileSync(path: string, limit: number, what: string): SmallFile | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `opening ${what}`);
  }
  try {
    const before = fstatSync(fd);
    if (!before.isFile()) throw new ChunkswarmError('E_IO', `${path} is not a regular file any more: something replaced it while it was being checked`);
    if (before.size > limit) return null;
    // One byte of slack shows a file that grew since fstat.
    const data = Buffer.allocUnsafe(before.size + 1);
    let size = 0;
    for (let n; (n = readSync(fd, data, size, data.length - size, null)) > 0; ) {
      size += n;
      if (size === data.length) return { bytes: data, changed: true };
    }
    return { bytes: data.subarray(0, size), changed: size !== before.size || !sameStat(before, fstatSync(fd)) };
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `reading ${what}`);
  } finally {
    closeSync(fd);
  }
}

/** Whether a file's size, mtime and ctime are as they were: what moves when it is written to. */
export function sameStat(a: Stats, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** Bytes of a file, 0 if there is none. */
export function statSizeOrZero(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

/** The names in a directory, or none if it cannot be listed (it does not exist, say). */
export function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * A positioned read started before the bytes read last are used (so the next read runs in the
 * thread pool while they are hashed or written). If using them fails, it is never awaited, and its
 * own failure must not become an unhandled rejection: the node's process would end.
 */
export function readAhead(handle: FileHandle, into: Buffer, position: number): Promise<{ bytesRead: number }> {
  const read = handle.read(into, 0, into.length, position);
  read.catch(() => undefined);
  return read;
}
