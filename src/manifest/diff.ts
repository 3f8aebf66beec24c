import type { ObjectHash } from '../core/index.js';
import { compareNames } from './validate.js';
import type { LoadTree } from './walk.js';
import type { TreeEntry, TreeObject } from './types.js';

export interface TreeChange {
  /** Relative, '/'-joined. */
  path: string;
  /** modified: content, symlink target or type; meta: only mode, mtime, owner or hard-link group. */
  change: 'added' | 'removed' | 'modified' | 'meta';
  old?: TreeEntry;
  new?: TreeEntry;
}

const EMPTY: TreeObject = { kind: 'tree', entries: [] };

/**
 * Changes from oldRoot (null: nothing) to newRoot, in canonical walk order (depth-first, names
 * byte-wise, a directory before its contents). Subtrees with equal hashes are never loaded, so the
 * cost follows the size of the change, not of the tree. Everything under an added or removed
 * directory is listed too. `until` stops the walk once it returns true for a change (a count
 * that has decided, over trees that may expand to millions of paths).
 */
export async function diffTrees(oldRoot: ObjectHash | null, newRoot: ObjectHash, loadTree: LoadTree, until?: (c: TreeChange) => boolean): Promise<TreeChange[]> {
  const out: TreeChange[] = [];
  await diffDirs(oldRoot, newRoot, '', loadTree, out, until);
  return out;
}

/** Returns true once `until` said stop (the listing is then a prefix of the whole). */
async function diffDirs(
  oldHash: ObjectHash | null,
  newHash: ObjectHash | null,
  prefix: string,
  loadTree: LoadTree,
  out: TreeChange[],
  until?: (c: TreeChange) => boolean,
): Promise<boolean> {
  if (oldHash === newHash) return false;
  const [before, after] = await Promise.all([
    oldHash === null ? EMPTY : loadTree(oldHash),
    newHash === null ? EMPTY : loadTree(newHash),
  ]);
  const a = before.entries;
  const b = after.entries;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const order = i === a.length ? 1 : j === b.length ? -1 : compareNames(a[i]!.name, b[j]!.name);
    const oldEntry = order <= 0 ? a[i++] : undefined;
    const newEntry = order >= 0 ? b[j++] : undefined;
    const path = `${prefix}${(oldEntry ?? newEntry)!.name}`;
    const change = classify(oldEntry, newEntry);
    if (change !== null) {
      const c: TreeChange = { path, change, ...(oldEntry && { old: oldEntry }), ...(newEntry && { new: newEntry }) };
      out.push(c);
      if (until?.(c)) return true;
    }
    const oldDir = oldEntry?.type === 'dir' ? oldEntry.hash! : null;
    const newDir = newEntry?.type === 'dir' ? newEntry.hash! : null;
    if ((oldDir !== null || newDir !== null) && (await diffDirs(oldDir, newDir, `${path}/`, loadTree, out, until))) return true;
  }
  return false;
}

function classify(oldEntry: TreeEntry | undefined, newEntry: TreeEntry | undefined): TreeChange['change'] | null {
  if (oldEntry === undefined) return 'added';
  if (newEntry === undefined) return 'removed';
  if (oldEntry.type !== newEntry.type) return 'modified';
  // A directory's content is its subtree, reported entry by entry, so only its own metadata counts here.
  if (oldEntry.type === 'file' && oldEntry.hash !== newEntry.hash) return 'modified';
  if (oldEntry.type === 'symlink' && oldEntry.target !== newEntry.target) return 'modified';
  const sameMeta =
    oldEntry.mode === newEntry.mode &&
    oldEntry.mtime === newEntry.mtime &&
    oldEntry.uid === newEntry.uid &&
    oldEntry.gid === newEntry.gid &&
    oldEntry.link === newEntry.link;
  return sameMeta ? null : 'meta';
}
