import type { ObjectHash } from '../core/index.js';
import type { TreeEntry } from '../manifest/index.js';
import type { ObjectStore } from '../store/index.js';
import type { ScannedDir, ScannedNode } from './scan-source.js';

export interface OwnerPolicy {
  recordOwner: boolean;
}

/** The tree entry of a scanned node, given its content object (file or dir) hash. */
export function entryOf(node: ScannedNode, hash: ObjectHash | undefined, policy: OwnerPolicy): TreeEntry {
  const e: TreeEntry = {
    name: node.name,
    type: node.type,
    mode: node.stat.mode & 0o7777,
    // Rounded, not floored: utimes() converts through a float and may land just below the integer,
    // so a floored value drifts by 1 ms on every copy.
    mtime: Math.max(0, Math.round(node.stat.mtimeMs)),
  };
  if (policy.recordOwner) {
    e.uid = node.stat.uid;
    e.gid = node.stat.gid;
  }
  if (node.type === 'symlink') e.target = node.target;
  else e.hash = hash;
  if (node.type === 'file' && node.link !== undefined) e.link = node.link;
  return e;
}

/** Writes the tree objects bottom-up; returns the root tree's hash. */
export async function buildTrees(
  root: ScannedDir,
  fileHashes: ReadonlyMap<string, ObjectHash>,
  objects: ObjectStore,
  policy: OwnerPolicy,
): Promise<ObjectHash> {
  const build = async (dir: ScannedDir): Promise<ObjectHash> => {
    const out: TreeEntry[] = [];
    for (const child of dir.children) {
      let hash: ObjectHash | undefined;
      if (child.type === 'dir') hash = await build(child);
      else if (child.type === 'file') hash = fileHashes.get(child.path);
      out.push(entryOf(child, hash, policy));
    }
    return objects.put({ kind: 'tree', entries: out });
  };
  return build(root);
}
