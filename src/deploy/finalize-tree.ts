import { chmod, lchown, lutimes, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import type { TreeEntry } from '../manifest/index.js';
import type { ObjectStore } from '../store/index.js';

/** Releases are read-only on disk: the write bits of the recorded mode are dropped. */
export function onDiskMode(mode: number): number {
  return mode & ~0o222;
}

export interface FinalizeOptions {
  /** Paths whose inode is shared with an already finalized release: their metadata is right. */
  done?: ReadonlySet<string>;
  /** Apply recorded uid/gid (only meaningful as root). */
  owner: boolean;
}

/**
 * Applies modes, mtimes and (optionally) ownership from the release's objects to a materialized
 * tree, children before their directory, so that making a directory read-only and setting its
 * mtime come after the last change inside it. The root itself stays writable: see sealRoot.
 */
export async function finalizeTree(dir: string, root: ObjectHash, objects: ObjectStore, opts: FinalizeOptions): Promise<void> {
  const rootTree = await objects.getTree(root);
  await finalizeDir(dir, '', rootTree.entries, objects, opts);
}

export const ROOT_MODE = 0o555;

/**
 * Makes a release's root read-only, once it is in releases/: renaming a directory to another
 * parent rewrites its ".." entry, which needs write permission on it (root ignores that, a service
 * user does not). The root's metadata is not part of the release (it is livePath's target), and a
 * crash before this leaves a root only its owner can write to; activation seals it again.
 */
export async function sealRoot(dir: string): Promise<void> {
  await chmod(dir, ROOT_MODE).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `making ${dir} read-only`);
  });
}

async function finalizeDir(
  abs: string,
  rel: string,
  entries: TreeEntry[],
  objects: ObjectStore,
  opts: FinalizeOptions,
): Promise<void> {
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    const target = join(abs, e.name);
    try {
      if (e.type === 'dir') {
        const sub = await objects.getTree(e.hash!);
        await finalizeDir(target, path, sub.entries, objects, opts);
        await applyMeta(target, e, opts.owner);
      } else if (e.type === 'symlink') {
        await applySymlinkMeta(target, e, opts.owner);
      } else if (!opts.done?.has(path)) {
        await applyMeta(target, e, opts.owner);
      }
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `setting metadata of ${path}`);
    }
  }
}

/** Owner, mode and mtime of a file or directory entry (owner only when `owner`). */
export async function applyMeta(target: string, e: TreeEntry, owner: boolean): Promise<void> {
  if (owner && e.uid !== undefined && e.gid !== undefined) await lchown(target, e.uid, e.gid);
  await chmod(target, onDiskMode(e.mode));
  await utimes(target, e.mtime / 1000, e.mtime / 1000);
}

export async function applySymlinkMeta(target: string, e: TreeEntry, owner: boolean): Promise<void> {
  if (owner && e.uid !== undefined && e.gid !== undefined) await lchown(target, e.uid, e.gid);
  await lutimes(target, e.mtime / 1000, e.mtime / 1000);
}
