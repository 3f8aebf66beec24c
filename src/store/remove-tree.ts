import { chmodSync, closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import type { InodeCache } from './inode-cache.js';

/**
 * rm -rf for our own read-only trees: directories are made writable first, because a non-root
 * node cannot unlink inside a 0555 directory. With `cache`, a file whose inode other releases
 * still hold keeps its cache entry across the unlink (which moves its ctime): deleting an old
 * release must not make the next check of the others re-hash every file they share with it.
 * Synchronous on purpose: a release of 10^5 files is 10^5 unlinks, each far cheaper than a trip
 * through the thread pool.
 */
export async function removeTree(path: string, o: { cache?: InodeCache } = {}): Promise<void> {
  try {
    remove(path, o.cache ?? null);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `removing ${path}`);
  }
}

function remove(path: string, cache: InodeCache | null): void {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (st.isDirectory()) {
    if ((st.mode & 0o700) !== 0o700) chmodSync(path, (st.mode & 0o7777) | 0o700);
    for (const name of readdirSync(path)) remove(join(path, name), cache);
    rmdirSync(path);
  } else if (cache && st.isFile() && st.nlink > 1) {
    unlinkShared(path, st, cache);
  } else {
    if (cache && st.isFile()) cache.forget(st);
    unlinkSync(path);
  }
}

/** The inode outlives this path: its state right after the unlink is read through an open descriptor. */
function unlinkShared(path: string, before: Stats, cache: InodeCache): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    // Unreadable (a 0000 file as non-root): the entry is simply lost, costing one re-hash.
    cache.forget(before);
    unlinkSync(path);
    return;
  }
  try {
    unlinkSync(path);
    cache.carry(before, fstatSync(fd));
  } finally {
    closeSync(fd);
  }
}
