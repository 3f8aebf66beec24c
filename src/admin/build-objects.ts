import type { ObjectHash } from '../core/index.js';
import { sameEncoding, type TreeEntry } from '../manifest/index.js';
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
 * Writes the tree objects bottom-up; returns the root tree's hash. A directory whose entries all
 * encode as those of the previous release's tree at its path is that tree: its hash is taken as it
 * is, and only the trees of changed directories are encoded, hashed and stored.
 */
export async function buildTrees(
  root: ScannedDir,
  fileHashes: ReadonlyMap<string, ObjectHash>,
  objects: ObjectStore,
  policy: OwnerPolicy,
  previous: ObjectHash | null = null,
): Promise<ObjectHash> {
  const build = async (dir: ScannedDir, before: ObjectHash | null): Promise<ObjectHash> => {
    // A previous tree that cannot be read is only a shortcut lost.
    const old = before === null ? null : await objects.getTree(before).catch(() => null);
    const oldDirs = old === null ? null : new Map(old.entries.filter((e) => e.type === 'dir').map((e) => [e.name, e.hash!]));
    const out: TreeEntry[] = [];
    for (const child of dir.children) {
      let hash: ObjectHash | undefined;
      if (child.type === 'dir') hash = await build(child, oldDirs?.get(child.name) ?? null);
      else if (child.type === 'file') hash = fileHashes.get(child.path);
      out.push(entryOf(child, hash, policy));
    }
    if (old !== null && old.entries.length === out.length && out.every((e, i) => sameEncoding(e, old.entries[i]!))) return before!;
    return objects.put({ kind: 'tree', entries: out });
  };
  return build(root, previous);
}
