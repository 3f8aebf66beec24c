import type { ObjectHash } from '../core/index.js';
import { walkTree, type TreeEntry } from '../manifest/index.js';
import type { ObjectStore } from '../store/index.js';

/** Every entry of a release by path, and the set of its chunk hashes. */
export async function indexRelease(
  root: ObjectHash,
  objects: ObjectStore,
): Promise<{ entries: Map<string, TreeEntry>; chunks: Set<string> }> {
  const entries = new Map<string, TreeEntry>();
  const chunks = new Set<string>();
  await walkTree(root, (h) => objects.getTree(h), async (path, entry) => {
    entries.set(path, entry);
    if (entry.type === 'file' && entry.hash) {
      for (const c of (await objects.getFile(entry.hash)).chunks) chunks.add(c.hash);
    }
  });
  return { entries, chunks };
}

/** Same content and same inode metadata: the old inode can serve the new release as it is. */
export function sameInode(a: TreeEntry | undefined, b: TreeEntry): boolean {
  return (
    a !== undefined &&
    a.type === 'file' &&
    b.type === 'file' &&
    a.hash === b.hash &&
    a.mode === b.mode &&
    a.mtime === b.mtime &&
    a.uid === b.uid &&
    a.gid === b.gid
  );
}
