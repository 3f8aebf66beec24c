import { closeSync, fstatSync, openSync, readSync, writeFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { ChunkswarmError, isZero } from '../core/index.js';
import { ChunkHasher, fileObjectOf, hashFile, type ChunkRef, type FileObject } from '../manifest/index.js';

const BUF = 1 << 20;
/** Blocks of zeros this large are left as holes in the copy: a sparse source stays sparse. */
const HOLE = 64 * 1024;
/** Below this size a file is copied with synchronous calls: most of a web root is small files. */
const SMALL = 1 << 20;

function changedWhileRead(displayPath: string): ChunkswarmError {
  return new ChunkswarmError(
    'E_FILE_CHANGED',
    `${displayPath} changed while it was being published; publish again once writers are done`,
  );
}

function sameStat(a: Stats, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** The small-file path of copyAndHash (hashSource without `dest`); null when the file is not small. */
function copySmallSync(src: string, dest: string | null, displayPath: string): FileObject | null {
  let fd: number;
  try {
    fd = openSync(src, 'r');
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `opening ${src}`);
  }
  try {
    const before = fstatSync(fd);
    if (before.size > SMALL) return null;
    // One byte of slack shows whether the file grew since fstat.
    const data = Buffer.allocUnsafe(before.size + 1);
    let size = 0;
    for (let n; (n = readSync(fd, data, size, data.length - size, null)) > 0; ) {
      size += n;
      if (size === data.length) throw changedWhileRead(displayPath);
    }
    const bytes = data.subarray(0, size);
    if (dest !== null) writeFileSync(dest, bytes, { flag: 'wx', mode: 0o600 });
    if (size !== before.size || !sameStat(before, fstatSync(fd))) throw changedWhileRead(displayPath);
    return fileObjectOf(bytes);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `copying ${displayPath}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Chunks and hashes `src` without copying it: for a file that is probably a previous release's
 * content (the caller copies it after all if not). Small files with synchronous calls, as above.
 */
export async function hashSource(src: string, displayPath: string): Promise<FileObject> {
  return copySmallSync(src, null, displayPath) ?? hashFile(src);
}

/**
 * Copies `src` to a new file `dest` while chunking and hashing it, in one read of the source.
 * What was hashed is exactly what was written; blocks of zeros are left as holes (read as zeros). If the source changes while it is read (its
 * size/mtime/ctime move), the copy is refused: a release must never describe bytes it does not hold.
 */
export async function copyAndHash(src: string, dest: string, displayPath: string): Promise<FileObject> {
  const small = copySmallSync(src, dest, displayPath);
  if (small) return small;
  const input = await open(src, 'r').catch((err) => {
    throw ChunkswarmError.fromSystem(err, `opening ${src}`);
  });
  try {
    const before = await input.stat();
    const output = await open(dest, 'wx', 0o600).catch((err) => {
      throw ChunkswarmError.fromSystem(err, `creating ${dest}`);
    });
    const hasher = new ChunkHasher();
    const chunks: ChunkRef[] = [];
    let size = 0;
    try {
      const buf = Buffer.allocUnsafe(BUF);
      for (;;) {
        const { bytesRead } = await input.read(buf, 0, BUF, null);
        if (bytesRead === 0) break;
        const data = buf.subarray(0, bytesRead);
        for (const c of hasher.write(data)) chunks.push(c);
        for (let at = 0; at < bytesRead; ) {
          const zero = isZero(data.subarray(at, at + HOLE));
          let end = Math.min(bytesRead, at + HOLE);
          while (end < bytesRead && isZero(data.subarray(end, end + HOLE)) === zero) end = Math.min(bytesRead, end + HOLE);
          // Positioned, so a short write (a disk filling up) goes on where it stopped, and its error is thrown.
          for (let off = at; !zero && off < end; ) {
            const { bytesWritten } = await output.write(data, off, end - off, size + off);
            if (bytesWritten === 0) throw new ChunkswarmError('E_NO_SPACE', `no space left on device while writing ${dest}`);
            off += bytesWritten;
          }
          at = end;
        }
        size += bytesRead;
      }
      for (const c of hasher.end()) chunks.push(c);
      // Zeros at the end were not written: the size says where the file ends.
      await output.truncate(size);
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `copying ${displayPath}`);
    } finally {
      await output.close();
    }
    if (size !== before.size || !sameStat(before, await input.stat())) throw changedWhileRead(displayPath);
    return { kind: 'file', size, chunks };
  } finally {
    await input.close();
  }
}
