import type { ObjectHash } from '../core/index.js';
import type { ChunkRef, FileObject, TreeEntry, TreeObject } from './types.js';

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
    await visit(path, entry);
    if (entry.type === 'dir') await walkDir(entry.hash!, path, loadTree, visit);
  }
}

/**
 * The release's pieces: every distinct chunk once, at its first occurrence in canonical walk
 * order. Every node derives the same list from the same root, so piece indexes agree.
 */
export async function releasePieces(root: ObjectHash, loadTree: LoadTree, loadFile: LoadFile): Promise<ChunkRef[]> {
  const pieces: ChunkRef[] = [];
  const seenChunks = new Set<string>();
  // Hard links and duplicate files share one file object: its chunks are already in.
  const seenFiles = new Set<string>();
  await walkTree(root, loadTree, async (_path, entry) => {
    if (entry.type !== 'file' || seenFiles.has(entry.hash!)) return;
    seenFiles.add(entry.hash!);
    const file = await loadFile(entry.hash!);
    for (const chunk of file.chunks) {
      if (seenChunks.has(chunk.hash)) continue;
      seenChunks.add(chunk.hash);
      pieces.push(chunk);
    }
  });
  return pieces;
}
