import type { ObjectHash } from '../core/index.js';
import type { FileObject, TreeEntry, TreeObject } from './types.js';

export type LoadTree = (hash: ObjectHash) => Promise<TreeObject>;
export type LoadFile = (hash: ObjectHash) => Promise<FileObject>;
export type Visit = (path: string, entry: TreeEntry) => void | Promise<void>;

/** Depth-first, pre-order (a directory before its contents), entries in canonical name order. */
export async function walkTree(root: ObjectHash, loadTree: LoadTree, visit: Visit): Promise<void> {
  await walkDir(root, '', loadTree, visit);
}

async function walkDir(hash: ObjectHash, prefix: string, loadTree: LoadTree, visit: Visit): Promise<void> {
  const tree = await loadTree(hash);
  for (const entry of tree.entries) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    // Awaited only when it is async: an await per entry of 10^5 is ~10 ms a walk, and a release
    // is walked several times per update.
    const visited = visit(path, entry);
    if (visited) await visited;
    if (entry.type === 'dir') await walkDir(entry.hash!, path, loadTree, visit);
  }
}
