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

/** A measured tree, with the trees directly under it (to carry a whole subtree from one release's memo to the next). */
interface MeasuredTree extends Expansion {
  subtrees: readonly string[];
}

/**
 * The trees of the release measured last: measuring the next one (which shares most of them)
 * walks only the trees it changed, not every file entry of the release again (a node measures
 * each release it stages). Holds one release's trees, carried subtree by subtree.
 */
export class ExpansionMemo {
  trees = new Map<string, MeasuredTree>();
}

/**
 * What a release expands to on disk, from its objects, visiting each distinct object once: tree
 * objects that point at one subtree many times (a few KB of objects, millions of paths) are
 * measured in microseconds and refused with E_TOO_LARGE before anything walks them path by path.
 * With a `memo`, trees the previous release had are taken from it; the memo then holds this
 * release's trees, unless it was refused.
 */
export async function measureExpansion(
  root: ObjectHash,
  loadTree: LoadTree,
  loadFile: LoadFile,
  limits: ExpansionLimits = DEFAULT_EXPANSION_LIMITS,
  memo?: ExpansionMemo,
): Promise<Expansion> {
  const check = <T extends Expansion>(e: T): T => {
    if (e.paths > limits.maxPaths) throw ChunkswarmError.tooLarge('the release\'s path count (so far)', e.paths, limits.maxPaths);
    if (e.bytes > limits.maxBytes) throw ChunkswarmError.tooLarge('the release\'s size in bytes (so far)', e.bytes, limits.maxBytes);
    if (e.depth > limits.maxDepth) throw ChunkswarmError.tooLarge('the release\'s directory depth', e.depth, limits.maxDepth);
    return e;
  };
  const before = memo?.trees;
  const found = new Map<string, MeasuredTree>();
  const trees = new Map<string, Promise<MeasuredTree>>();
  const files = new Map<string, Promise<number>>();
  const fileSize = (h: ObjectHash) => {
    let p = files.get(h);
    if (!p) files.set(h, (p = loadFile(h).then((f) => f.size)));
    return p;
  };
  const carry = (h: string, t: MeasuredTree) => {
    if (found.has(h)) return;
    found.set(h, t);
    for (const sub of t.subtrees) carry(sub, before!.get(sub)!);
  };
  const measure = (h: ObjectHash): Promise<MeasuredTree> => {
    let p = trees.get(h);
    if (!p) {
      const known = before?.get(h);
      if (known) carry(h, known);
      p = known ? Promise.resolve(known) : measureTree(h);
      trees.set(h, p);
    }
    return p;
  };
  const measureTree = async (h: ObjectHash): Promise<MeasuredTree> => {
    const tree = await loadTree(h);
    const out = { paths: 0, bytes: 0, depth: 0, subtrees: [] as string[] };
    for (const e of tree.entries) {
      out.paths++;
      if (e.type === 'file') out.bytes += await fileSize(e.hash!);
      else if (e.type === 'dir') {
        const sub = await measure(e.hash!);
        out.subtrees.push(e.hash!);
        out.paths += sub.paths;
        out.bytes += sub.bytes;
        out.depth = Math.max(out.depth, sub.depth + 1);
      }
      // Checked as it grows, so a bomb is refused without summing it to the end.
      check(out);
    }
    found.set(h, out);
    return out;
  };
  // The root too: it may come whole from the memo, measured under other limits.
  const { paths, bytes, depth } = check(await measure(root));
  if (memo) memo.trees = found;
  return { paths, bytes, depth };
}
