import { createHash } from 'node:crypto';
import { closeSync, constants, openSync, readSync, writeSync, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, open, readlink, symlink, unlink } from 'node:fs/promises';
import { ChunkswarmError } from '../core/index.js';
import type { FileObject } from '../manifest/index.js';
import { removeTree } from '../store/index.js';

/**
 * File operations of staging. None of them follows a symlink: a symlink found where staging
 * expects a directory or a file is either refused or removed, never written through.
 */

const NOFOLLOW = constants.O_NOFOLLOW;

/** Whether recorded uid/gid are applied: by default only as root, the one user that can chown. */
export function ownerOf(opts: { owner?: boolean }): boolean {
  return opts.owner ?? process.getuid?.() === 0;
}

export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  }
}

/** mkdir that refuses to reuse anything but a real directory, which it makes writable for us. */
export async function ensureDir(path: string): Promise<void> {
  const st = await lstatOrNull(path);
  try {
    if (st === null) await mkdir(path, { mode: 0o700 });
    else if (!st.isDirectory()) {
      throw ChunkswarmError.unsafePath(path, `expected a directory in the staging area, found a ${kindOf(st)}; refusing to write through it`);
    } else if ((st.mode & 0o700) !== 0o700) await chmod(path, (st.mode & 0o7777) | 0o700);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `creating directory ${path}`);
  }
}

export function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  return 'special file';
}

/** Removes whatever is at path (a directory with its contents); never follows a symlink. */
export async function removeAny(path: string, st?: Stats | null): Promise<void> {
  const s = st === undefined ? await lstatOrNull(path) : st;
  if (s === null) return;
  if (s.isDirectory()) return removeTree(path);
  await unlink(path).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `removing ${path}`);
  });
}

/** A new file of `size` bytes (sparse until written): staging then writes chunks at their offsets. */
export async function createSized(path: string, size: number): Promise<void> {
  try {
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
    try {
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `creating ${path}`);
  }
}

/**
 * Writes the same bytes at each offset of one file. Synchronous on purpose: this runs once per
 * piece (a chunk, ~64 KiB, going to the page cache), where the promise API's open/write/close
 * round trips through the thread pool cost several times the syscalls themselves (bench/transfer).
 */
export async function writeAt(path: string, bytes: Uint8Array, offsets: readonly number[]): Promise<void> {
  try {
    const fd = openSync(path, constants.O_WRONLY | NOFOLLOW);
    try {
      for (const off of offsets) writeSync(fd, bytes, 0, bytes.length, off);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `writing ${path}`);
  }
}

/** `size` bytes at `offset` if they hash to `hash`, else null (missing, short or different). Per piece: synchronous, like writeAt. */
export async function readVerified(path: string, offset: number, size: number, hash: string): Promise<Uint8Array | null> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return null;
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  }
  try {
    const buf = Buffer.allocUnsafe(size);
    const bytesRead = readSync(fd, buf, 0, size, offset);
    if (bytesRead !== size) return null;
    return createHash('sha256').update(buf).digest('hex') === hash ? buf : null;
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks a file's bytes against its object, chunk by chunk. Returns the ordinals of the chunks that
 * do not match (every chunk when the size is wrong or the path is not a regular file).
 */
export async function badChunks(path: string, file: FileObject): Promise<number[]> {
  const all = file.chunks.map((_c, i) => i);
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return file.size === 0 ? [-1] : all;
    throw ChunkswarmError.fromSystem(err, `verifying ${path}`);
  }
  try {
    const st = await fh.stat();
    // -1 marks "the file itself is wrong" for files without chunks.
    if (!st.isFile() || st.size !== file.size) return all.length > 0 ? all : [-1];
    const bad: number[] = [];
    const buf = Buffer.allocUnsafe(Math.max(1, ...file.chunks.map((c) => c.size)));
    let offset = 0;
    for (let i = 0; i < file.chunks.length; i++) {
      const c = file.chunks[i]!;
      const { bytesRead } = await fh.read(buf, 0, c.size, offset);
      const got = createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex');
      if (bytesRead !== c.size || got !== c.hash) bad.push(i);
      offset += c.size;
    }
    return bad;
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `verifying ${path}`);
  } finally {
    await fh.close();
  }
}

/** Creates or keeps a symlink with exactly this target. */
export async function placeSymlink(path: string, target: string): Promise<void> {
  const st = await lstatOrNull(path);
  if (st?.isSymbolicLink() && (await readlink(path)) === target) return;
  await removeAny(path, st);
  await symlink(target, path).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `creating symlink ${path}`);
  });
}
