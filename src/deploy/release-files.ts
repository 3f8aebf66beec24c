import { join } from 'node:path';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { releasePieces, walkTree, type ChunkRef, type TreeEntry } from '../manifest/index.js';
import type { ObjectStore } from '../store/index.js';
import type { PlanFile } from './plan.js';

/** Linux PATH_MAX, terminating NUL included. */
const PATH_MAX = 4096;

export interface ReleaseContent {
  /** Every entry by path, in canonical walk order. */
  entries: Map<string, TreeEntry>;
  dirs: string[];
  symlinks: Array<{ path: string; target: string }>;
  files: PlanFile[];
  pieces: ChunkRef[];
}

/**
 * Everything staging needs to know about a release, from its objects (which must all be local).
 * `base` is where it will be written: a path that would not fit in PATH_MAX there is refused up
 * front rather than failing half-way with ENAMETOOLONG.
 */
export async function loadRelease(root: ObjectHash, objects: ObjectStore, base: string): Promise<ReleaseContent> {
  const out: ReleaseContent = { entries: new Map(), dirs: [], symlinks: [], files: [], pieces: [] };
  const loadTree = (h: ObjectHash) => objects.getTree(h);
  await walkTree(root, loadTree, async (path, entry) => {
    if (Buffer.byteLength(join(base, path)) >= PATH_MAX) {
      throw ChunkswarmError.unsafePath(path.slice(0, 200) + '…', `the path is longer than PATH_MAX (${PATH_MAX} bytes) under ${base}`);
    }
    out.entries.set(path, entry);
    if (entry.type === 'dir') out.dirs.push(path);
    else if (entry.type === 'symlink') out.symlinks.push({ path, target: entry.target! });
    else out.files.push({ path, entry, file: await objects.getFile(entry.hash!) });
  });
  out.pieces = await releasePieces(root, loadTree, (h) => objects.getFile(h));
  return out;
}
