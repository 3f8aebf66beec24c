import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import type { LoadFile, LoadTree } from './walk.js';

export interface ExpansionLimits {
  /** Entries (files, directories, symlinks) in the expanded tree. */
  maxPaths: number;
  /** Bytes of all regular files, each path counted (hard links and duplicates too). */
  maxBytes: number;
  /** Directory nesting below the root. */
  maxDepth: number;
}

export const DEFAULT_EXPANSION_LIMITS: Readonly<ExpansionLimits> = {
  maxPaths: 10_000_000,
  maxBytes: 2 ** 44,
  maxDepth: 1024,
};

export interface Expansion {
  paths: number;
  bytes: number;
  depth: number;
}

/**
 * What a release expands to on disk, from its objects, visiting each distinct object once: tree
 * objects that point at one subtree many times (a few KB of objects, millions of paths) are
 * measured in microseconds and refused with E_TOO_LARGE before anything walks them path by path.
 */
export async function measureExpansion(
  root: ObjectHash,
  loadTree: LoadTree,
  loadFile: LoadFile,
  limits: ExpansionLimits = DEFAULT_EXPANSION_LIMITS,
): Promise<Expansion> {
  const trees = new Map<string, Promise<Expansion>>();
  const files = new Map<string, Promise<number>>();
  const fileSize = (h: ObjectHash) => {
    let p = files.get(h);
    if (!p) files.set(h, (p = loadFile(h).then((f) => f.size)));
    return p;
  };
  const measure = (h: ObjectHash): Promise<Expansion> => {
    let p = trees.get(h);
    if (!p) {
      p = (async () => {
        const tree = await loadTree(h);
        const out: Expansion = { paths: 0, bytes: 0, depth: 0 };
        for (const e of tree.entries) {
          out.paths++;
          if (e.type === 'file') out.bytes += await fileSize(e.hash!);
          else if (e.type === 'dir') {
            const sub = await measure(e.hash!);
            out.paths += sub.paths;
            out.bytes += sub.bytes;
            out.depth = Math.max(out.depth, sub.depth + 1);
          }
          // Checked as it grows, so a bomb is refused without summing it to the end.
          if (out.paths > limits.maxPaths) throw ChunkswarmError.tooLarge('the release\'s path count (so far)', out.paths, limits.maxPaths);
          if (out.bytes > limits.maxBytes) throw ChunkswarmError.tooLarge('the release\'s size in bytes (so far)', out.bytes, limits.maxBytes);
          if (out.depth > limits.maxDepth) throw ChunkswarmError.tooLarge('the release\'s directory depth', out.depth, limits.maxDepth);
        }
        return out;
      })();
      trees.set(h, p);
    }
    return p;
  };
  return measure(root);
}
