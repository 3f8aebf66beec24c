import { writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ChunkswarmError, isZero, readAhead, readSmallFileSync, sameStat } from '../core/index.js';
import { ChunkHasher, fileObjectOf, type ChunkRef, type FileObject } from '../manifest/index.js';

const BUF = 1 << 20;
/** Blocks of zeros this large are left as holes in the copy: a sparse source stays sparse. */
const HOLE = 64 * 1024;
/** Below this size a file is copied with synchronous calls: most of a web root is small files. */
export const SMALL = 1 << 20;

function changedWhileRead(displayPath: string): ChunkswarmError {
  return new ChunkswarmError(
    'E_FILE_CHANGED',
    `${displayPath} changed while it was being published; publish again once writers are done`,
  );
}

/** Whether `chunks` from index `from` on are `previous`'s chunks at the same places. */
function sameChunksFrom(chunks: readonly ChunkRef[], previous: FileObject, from: number): boolean {
  for (let i = from; i < chunks.length; i++) {
    const p = previous.chunks[i];
    if (p === undefined || p.hash !== chunks[i]!.hash || p.size !== chunks[i]!.size) return false;
  }
  return true;
}

function sameFile(a: FileObject, b: FileObject): boolean {
  return a.size === b.size && a.chunks.length === b.chunks.length && sameChunksFrom(a.chunks, b, 0);
}

/** Writes `data` at `offset` of `output`, leaving blocks of zeros as holes; positioned, so a short write goes on where it stopped. */
async function writeLeavingHoles(output: FileHandle, data: Buffer, offset: number, dest: string): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const zero = isZero(data.subarray(at, at + HOLE));
    let end = Math.min(data.length, at + HOLE);
    while (end < data.length && isZero(data.subarray(end, end + HOLE)) === zero) end = Math.min(data.length, end + HOLE);
    for (let off = at; !zero && off < end; ) {
      const { bytesWritten } = await output.write(data, off, end - off, offset + off);
      if (bytesWritten === 0) throw new ChunkswarmError('E_NO_SPACE', `no space left on device while writing ${dest}`);
      off += bytesWritten;
    }
    at = end;
  }
}

/** Creates `dest` and copies the first `upTo` bytes of `input` into it (read again: they were hashed already). */
async function startCopy(input: FileHandle, dest: string, upTo: number): Promise<FileHandle> {
  const output = await open(dest, 'wx', 0o600).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `creating ${dest}`);
  });
  const buf = Buffer.allocUnsafe(BUF);
  for (let at = 0; at < upTo; ) {
    const { bytesRead } = await input.read(buf, 0, Math.min(BUF, upTo - at), at);
    if (bytesRead === 0) break;
    await writeLeavingHoles(output, buf.subarray(0, bytesRead), at, dest);
    at += bytesRead;
  }
  return output;
}

export interface CopyResult {
  file: FileObject;
  /** False: the content is `previous`'s, and nothing was written. */
  copied: boolean;
}

/**
 * copyUnlessSame for a file below 1 MiB, with synchronous calls (most of a web root is small
 * files); null for a larger one. Runs in a worker thread as well (copy-workers.ts).
 */
export function copySmallUnlessSame(src: string, dest: string, displayPath: string, previous: FileObject | null): CopyResult | null {
  const small = readSmallFileSync(src, SMALL, displayPath);
  if (small?.changed) throw changedWhileRead(displayPath);
  if (!small) return null;
  const file = fileObjectOf(small.bytes);
  if (previous && sameFile(file, previous)) return { file, copied: false };
  try {
    writeFileSync(dest, small.bytes, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `copying ${displayPath}`);
  }
  return { file, copied: true };
}

/**
 * Chunks and hashes `src` and copies it to a new file `dest` in the same read, unless its content
 * is `previous`'s (the previous release's file at its path: the caller links that one instead).
 * Large files are copied from the first chunk that differs from `previous`'s at the same place
 * (the bytes before it are read again for the copy): a same-size file edited in one place was
 * read and hashed twice before, once to compare and once to copy (300 MB: 1.4 s of the master's
 * publish). What was hashed is what was written, or the publish is refused: if the source changes
 * while it is read (its size/mtime/ctime move), E_FILE_CHANGED. Blocks of zeros are left as holes
 * (read as zeros).
 */
export async function copyUnlessSame(src: string, dest: string, displayPath: string, previous: FileObject | null): Promise<CopyResult> {
  const small = copySmallUnlessSame(src, dest, displayPath, previous);
  if (small) return small;
  const input = await open(src, 'r').catch((err) => {
    throw ChunkswarmError.fromSystem(err, `opening ${src}`);
  });
  let output: FileHandle | null = null;
  try {
    const before = await input.stat();
    const hasher = new ChunkHasher();
    const chunks: ChunkRef[] = [];
    let size = 0;
    let matching = previous !== null;
    try {
      // Two buffers: the next read runs in the thread pool while this one is hashed and written.
      let filling = Buffer.allocUnsafe(BUF);
      let spare = Buffer.allocUnsafe(BUF);
      let next = readAhead(input, filling, 0);
      for (;;) {
        const { bytesRead } = await next;
        if (bytesRead === 0) break;
        const data = filling.subarray(0, bytesRead);
        [filling, spare] = [spare, filling];
        next = readAhead(input, filling, size + bytesRead);
        const from = chunks.length;
        for (const c of hasher.write(data)) chunks.push(c);
        if (matching && !sameChunksFrom(chunks, previous!, from)) matching = false;
        if (!matching) {
          output ??= await startCopy(input, dest, size);
          await writeLeavingHoles(output, data, size, dest);
        }
        size += bytesRead;
      }
      for (const c of hasher.end()) chunks.push(c);
      const file: FileObject = { kind: 'file', size, chunks };
      if (size !== before.size || !sameStat(before, await input.stat())) throw changedWhileRead(displayPath);
      if (matching && sameFile(file, previous!)) return { file, copied: false };
      output ??= await startCopy(input, dest, size);
      // Zeros at the end were not written: the size says where the file ends.
      await output.truncate(size);
      if (!sameStat(before, await input.stat())) throw changedWhileRead(displayPath);
      return { file, copied: true };
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `copying ${displayPath}`);
    }
  } finally {
    await output?.close();
    await input.close();
  }
}

/** copyUnlessSame with no previous content: always copied. */
export async function copyAndHash(src: string, dest: string, displayPath: string): Promise<FileObject> {
  return (await copyUnlessSame(src, dest, displayPath, null)).file;
}
