import { chmodSync, lchownSync, lutimesSync, utimesSync } from 'node:fs';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import type { TreeEntry } from '../manifest/index.js';
import type { ObjectStore } from '../store/index.js';
import { isRoot, turnDue, nextTurn } from './stage-fs.js';

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
  /** Files whose metadata is already right (their inode is a finalized release's), by release path. */
  done?: ReadonlySet<string>;
  /** Apply recorded uid/gid (only meaningful as root). */
  owner: boolean;
}

/**
 * Applies modes, mtimes and (optionally) ownership from the release's objects to a materialized
 * tree, children before their directory, so that making a directory read-only and setting its
 * mtime come after the last change inside it. The root itself stays writable: see sealRoot.
 * Synchronous calls: two or three per entry, far cheaper than as many trips through the thread pool.
 */
export async function finalizeTree(dir: string, root: ObjectHash, objects: ObjectStore, opts: FinalizeOptions): Promise<void> {
  let n = 0;
  const walk = async (abs: string, rel: string, entries: readonly TreeEntry[]): Promise<void> => {
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      // Most files of an update are linked: skipped before any path is built for them.
      if (e.type === 'file' && opts.done?.has(path)) continue;
      const target = `${abs}/${e.name}`;
      if (e.type === 'dir') await walk(target, path, (await objects.getTree(e.hash!)).entries);
      try {
        if (e.type === 'symlink') applySymlinkMeta(target, e, opts.owner);
        else applyMeta(target, e, opts.owner);
      } catch (err) {
        throw ChunkswarmError.fromSystem(err, `setting metadata of ${path}`);
      }
      if (turnDue(++n)) await nextTurn();
    }
  };
  await walk(dir, '', (await objects.getTree(root)).entries);
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

/** Owner, mode and mtime of a file or directory entry (owner only when `owner`). */
export function applyMeta(target: string, e: TreeEntry, owner: boolean): void {
  if (owner && e.uid !== undefined && e.gid !== undefined) lchownSync(target, e.uid, e.gid);
  chmodSync(target, onDiskMode(e));
  utimesSync(target, e.mtime / 1000, e.mtime / 1000);
}

export function applySymlinkMeta(target: string, e: TreeEntry, owner: boolean): void {
  if (owner && e.uid !== undefined && e.gid !== undefined) lchownSync(target, e.uid, e.gid);
  lutimesSync(target, e.mtime / 1000, e.mtime / 1000);
}
