import { lstatSync, type Stats } from 'node:fs';
import type { MaybePromise } from '../core/index.js';
import { contentHashOfFile, type TreeEntry } from '../manifest/index.js';
import type { InodeCache } from '../store/index.js';
import { onDiskMode } from './finalize-tree.js';
import type { DriftKind } from './verify-result.js';

export interface FileCheck {
  st: Stats | null;
  /** null: exactly the entry (content, size, mode, mtime, owner when `owner`). */
  drift: Exclude<DriftKind, 'added'> | null;
}

/**
 * One file of a materialized release against its entry, at lstat speed: the inode cache vouches
 * for the content of an inode whose size, mtime and ctime are unchanged; otherwise the file is
 * hashed once (and remembered). Only that read makes it a promise. `known`: its lstat, taken just
 * before by the caller (null: nothing there).
 */
export function checkFile(abs: string, entry: TreeEntry, size: number, inodes: InodeCache, owner: boolean, known?: Stats | null): MaybePromise<FileCheck> {
  const st = known !== undefined ? known : (lstatSync(abs, { throwIfNoEntry: false }) ?? null);
  if (!st) return { st, drift: 'removed' };
  if (!st.isFile()) return { st, drift: 'type' };
  if (st.size !== size) return { st, drift: 'modified' };
  const vouched = inodes.hashOf(st);
  if (vouched !== null) return compared(st, entry, vouched, owner);
  return contentHashOfFile(abs).then((hash) => {
    inodes.remember(st, hash);
    return compared(st, entry, hash, owner);
  });
}

function compared(st: Stats, entry: TreeEntry, hash: string, owner: boolean): FileCheck {
  if (hash !== entry.hash) return { st, drift: 'modified' };
  const meta = Math.abs(st.mtimeMs - entry.mtime) >= 1 || (st.mode & 0o7777) !== onDiskMode(entry) ||
    (owner && entry.uid !== undefined && (st.uid !== entry.uid || st.gid !== entry.gid));
  return { st, drift: meta ? 'meta' : null };
}
