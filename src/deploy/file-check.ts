import { lstatSync, type Stats } from 'node:fs';
import { contentHashOfFile, type TreeEntry } from '../manifest/index.js';
import type { InodeCache } from '../store/index.js';
import { onDiskMode } from './finalize-tree.js';
import type { DriftKind } from './verify.js';

export interface FileCheck {
  st: Stats | null;
  /** null: exactly the entry (content, size, mode, mtime, owner when `owner`). */
  drift: Exclude<DriftKind, 'added'> | null;
}

/**
 * One file of a materialized release against its entry, at lstat speed: the inode cache vouches
 * for the content of an inode whose size, mtime and ctime are unchanged; otherwise the file is
 * hashed once (and remembered).
 */
export async function checkFile(abs: string, entry: TreeEntry, size: number, inodes: InodeCache, owner: boolean): Promise<FileCheck> {
  const st = lstatSync(abs, { throwIfNoEntry: false }) ?? null;
  if (!st) return { st, drift: 'removed' };
  if (!st.isFile()) return { st, drift: 'type' };
  if (st.size !== size) return { st, drift: 'modified' };
  let hash = inodes.hashOf(st);
  if (hash === null) {
    hash = await contentHashOfFile(abs);
    inodes.remember(st, hash);
  }
  if (hash !== entry.hash) return { st, drift: 'modified' };
  const meta = Math.abs(st.mtimeMs - entry.mtime) >= 1 || (st.mode & 0o7777) !== onDiskMode(entry) ||
    (owner && entry.uid !== undefined && (st.uid !== entry.uid || st.gid !== entry.gid));
  return { st, drift: meta ? 'meta' : null };
}
