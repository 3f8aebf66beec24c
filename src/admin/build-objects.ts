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

/**
 * Writes the tree objects bottom-up and returns the root tree hash plus every entry by path (the
 * materializer needs the entries to decide what it may hard-link).
 */
export async function buildTrees(
  root: ScannedDir,
  fileHashes: ReadonlyMap<string, ObjectHash>,
  objects: ObjectStore,
  policy: OwnerPolicy,
): Promise<{ root: ObjectHash; entries: Map<string, TreeEntry> }> {
  const entries = new Map<string, TreeEntry>();
  const build = async (dir: ScannedDir): Promise<ObjectHash> => {
    const out: TreeEntry[] = [];
    for (const child of dir.children) {
      let hash: ObjectHash | undefined;
      if (child.type === 'dir') hash = await build(child);
      else if (child.type === 'file') hash = fileHashes.get(child.path);
      const e = entryOf(child, hash, policy);
      entries.set(child.path, e);
      out.push(e);
    }
    return objects.put({ kind: 'tree', entries: out });
  };
  return { root: await build(root), entries };
}
