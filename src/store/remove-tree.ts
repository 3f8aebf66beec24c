import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';

/**
 * rm -rf for our own read-only trees: directories are made writable first, because a non-root
 * node cannot unlink inside a 0555 directory.
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await makeDirsWritable(path);
    await rm(path, { recursive: true, force: true });
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `removing ${path}`);
  }
}

async function makeDirsWritable(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isDirectory()) return;
  if ((st.mode & 0o700) !== 0o700) await chmod(path, (st.mode & 0o7777) | 0o700);
  for (const d of await readdir(path, { withFileTypes: true })) {
    if (d.isDirectory()) await makeDirsWritable(join(path, d.name));
  }
}
