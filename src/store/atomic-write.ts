import { open, readFile, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { flushObjectJournals } from './object-journal.js';
import { syncfs } from './sync-helper.js';

/**
 * write temp + fsync + rename: a reader (or a crash) sees either the old file or the new one,
 * never a torn one.
 */
export async function atomicWrite(
  path: string,
  data: Uint8Array | string,
  opts: { mode?: number; durable?: boolean } = {},
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
    try {
      await fh.writeFile(data);
      if (opts.durable !== false) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw ChunkswarmError.fromSystem(err, `writing ${path}`);
  }
}

/**
 * Flushes the file system holding `path` once, instead of an fsync per file: a release of 10^5
 * files is made durable before it is renamed into place, at the cost of one syncfs(2).
 */
export async function syncFilesystem(path: string): Promise<void> {
  try {
    flushObjectJournals();
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, 'writing objects to their journal');
  }
  await syncfs(path).catch((err: unknown) => {
    throw ChunkswarmError.fromSystem(err, `syncing ${path}`);
  });
}

/** The text of a file this module writes, or null if it was never written. */
export async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  }
}
