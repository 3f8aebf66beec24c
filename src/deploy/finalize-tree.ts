import { chmodSync, lchownSync, lstatSync, lutimesSync, readdirSync, utimesSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import type { TreeEntry } from '../manifest/index.js';
import type { InodeCache, ObjectStore } from '../store/index.js';
import { isRoot, parentOf, removeAny, turnDue, nextTurn, type FileMeta } from './stage-fs.js';

/**
 * What a node that is not root keeps of its own access to a release's files (read) and directories
 * (read and search), whatever their recorded mode: without it a directory published 0711 or a file
 * published 0000 is one its own node can no longer list, verify, hash or link from, and every
 * check of the live tree fails from then on. Only the owner bits change: the web server, another
 * user, sees the recorded mode.
 */
const OWNER_KEEPS = isRoot() ? { file: 0, dir: 0 } : { file: 0o400, dir: 0o500 };

/** Releases are read-only on disk: the write bits of the recorded mode are dropped (see OWNER_KEEPS for the rest). */
export function onDiskMode(e: Pick<TreeEntry, 'mode' | 'type'>): number {
  return (e.mode & ~0o222) | OWNER_KEEPS[e.type === 'dir' ? 'dir' : 'file'];
}

export interface FinalizeOptions {
  /**
   * The files written by this staging, by release path: the only ones whose metadata is applied.
   * Every other file is a finalized release's inode, linked, or a hard link to a written one.
   */
  written: ReadonlySet<string>;
  /** Apply recorded uid/gid (only meaningful as root). */
  owner: boolean;
  /** Vouches for directories that still hold their tree's names (not listed), and learns those found so. */
  inodes: InodeCache;
}

/**
 * Completes a tree whose every name of the release is in place: applies modes, mtimes and
 * (optionally) ownership from the release's objects, children before their directory, and removes
 * from each directory the names the release does not have (left over in a recycled tree, or
 * planted). Synchronous calls: two or three per entry, far cheaper than as many trips through the
 * thread pool. The root's own metadata is not the release's (see sealRoot).
 */
export async function finalizeTree(dir: string, root: ObjectHash, objects: ObjectStore, opts: FinalizeOptions): Promise<void> {
  let n = 0;
  // Most files of an update are linked, and most directories hold no written file: their files
  // are passed over without a path built for each (10^5 of them in a steady update of 10^5 files).
  const withWrites = new Set<string>();
  for (const path of opts.written) withWrites.add(parentOf(path));
  const walk = async (abs: string, rel: string, entries: readonly TreeEntry[]): Promise<void> => {
    const filesWritten = withWrites.has(rel);
    for (const e of entries) {
      if (e.type === 'file' && !filesWritten) continue;
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.type === 'file' && !opts.written.has(path)) continue;
      const target = `${abs}/${e.name}`;
      try {
        if (e.type === 'dir') {
          const tree = await objects.getTree(e.hash!);
          await walk(target, path, tree.entries);
          await finishDir(target, e, tree.entries, opts);
        } else if (e.type === 'symlink') applySymlinkMeta(target, e, opts.owner);
        else applyMeta(target, e, opts.owner);
      } catch (err) {
        throw ChunkswarmError.fromSystem(err, `setting metadata of ${path}`);
      }
      if (turnDue(++n)) await nextTurn();
    }
  };
  const top = (await objects.getTree(root)).entries;
  await walk(dir, '', top);
  await removeStrays(dir, top);
}

/**
 * A directory's metadata, then its names. In that order so that once it is listed with no name the
 * release lacks, the inode cache can remember it holding its tree (rememberTree): any name added
 * after the lstat that precedes the listing moves its mtime off the recorded one, which a listing
 * made before a utimes would not see. Most directories of a recycled tree are left as they were,
 * their record still holding, and are not listed at all.
 */
async function finishDir(abs: string, e: TreeEntry, entries: readonly TreeEntry[], opts: FinalizeOptions): Promise<void> {
  const st = applyDirMeta(abs, e, opts.owner);
  if (opts.inodes.holdsTree(st, e.hash!)) return;
  if (await removeStrays(abs, entries)) applyDirMeta(abs, e, opts.owner);
  else opts.inodes.rememberTree(st, e.hash!);
}

/** Removes what `dir` holds that `entries` do not name; whether there was any. */
async function removeStrays(dir: string, entries: readonly TreeEntry[]): Promise<boolean> {
  let onDisk: string[];
  try {
    onDisk = readdirSync(dir);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `listing ${dir}`);
  }
  const names = new Set(entries.map((x) => x.name));
  const strays = onDisk.filter((name) => !names.has(name));
  if (strays.length === 0) return false;
  // A node that is not root may already have made the directory read-only (applyDirMeta).
  if (!isRoot()) chmodSync(dir, (lstatSync(dir).mode & 0o7777) | 0o700);
  for (const name of strays) await removeAny(join(dir, name));
  return true;
}

export const ROOT_MODE = 0o555;

/**
 * Makes a release's root read-only, once it is in releases/: renaming a directory to another
 * parent rewrites its ".." entry, which needs write permission on it (root ignores that, a service
 * user does not). The root's metadata is not part of the release (it is livePath's target), and a
 * crash before this leaves a root only its owner can write to; activation seals it again.
 */
export async function sealRoot(dir: string): Promise<void> {
  try {
    chmodSync(dir, ROOT_MODE);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `making ${dir} read-only`);
  }
}

/** What applyMeta gives an entry: owner (only when `owner`), mode on disk, mtime. */
export function fileMeta(e: TreeEntry, owner: boolean): FileMeta {
  return { mode: onDiskMode(e), mtimeMs: e.mtime, owner: owner && e.uid !== undefined && e.gid !== undefined ? { uid: e.uid, gid: e.gid } : null };
}

/** Owner, mode and mtime of a file or directory entry (owner only when `owner`). */
export function applyMeta(target: string, e: TreeEntry, owner: boolean): void {
  const meta = fileMeta(e, owner);
  if (meta.owner) lchownSync(target, meta.owner.uid, meta.owner.gid);
  chmodSync(target, meta.mode);
  utimesSync(target, meta.mtimeMs / 1000, meta.mtimeMs / 1000);
}

/**
 * applyMeta for a directory, skipping what is already right: most directories of a recycled tree
 * are, and a chmod or utimes of one would move its ctime, and with it the inode cache's word that
 * it holds its tree's names (InodeCache.holdsTree), which spares the next check a listing.
 * Returns its state after.
 */
function applyDirMeta(target: string, e: TreeEntry, owner: boolean): Stats {
  const st = lstatSync(target);
  let changed = false;
  if (owner && e.uid !== undefined && e.gid !== undefined && (st.uid !== e.uid || st.gid !== e.gid)) {
    lchownSync(target, e.uid, e.gid);
    changed = true;
  }
  const mode = onDiskMode(e);
  if ((st.mode & 0o7777) !== mode) {
    chmodSync(target, mode);
    changed = true;
  }
  // utimes takes seconds as a double: what it sets may be off the recorded milliseconds by a hair.
  if (Math.abs(st.mtimeMs - e.mtime) >= 1) {
    utimesSync(target, e.mtime / 1000, e.mtime / 1000);
    changed = true;
  }
  return changed ? lstatSync(target) : st;
}

export function applySymlinkMeta(target: string, e: TreeEntry, owner: boolean): void {
  if (owner && e.uid !== undefined && e.gid !== undefined) lchownSync(target, e.uid, e.gid);
  lutimesSync(target, e.mtime / 1000, e.mtime / 1000);
}
