import { HELPER_MIN_ENTRIES, LstatAhead, type LstatJob, type ObjectHash } from '../core/index.js';
import type { ObjectStore } from '../store/index.js';

/** A walk's helper thread, with the jobs it was given and each one's index by '/'-joined path. */
export interface ReleaseLstat {
  helper: LstatAhead;
  list: readonly LstatJob[];
  jobs: Map<string, number>;
}

/**
 * A helper thread for the lstat of every entry of a tree laid out as the release `root` is, under
 * `dir`: every directory in the order a depth-first walk comes to them (each before what it holds,
 * its entries in order). The check of a live tree walks the release's own tree; a publish walks a
 * source that is mostly its newest release. Null where the release is too small for one to pay
 * (LstatAhead.start), its trees are not all in memory (no tree pack), or it has more than
 * `maxEntries` paths: a release not measured before (measureExpansion), the newest on a master,
 * may be one whose trees name each other over and over, millions of paths in a few objects. Counted
 * first, without a promise or a list of names: a walk of a release under the size, nearly every
 * one, pays ~0.3 ms for it, not a walk.
 */
export function lstatAheadOf(
  dir: string,
  root: ObjectHash,
  objects: ObjectStore,
  o: { minEntries?: number; maxEntries?: number } = {},
): ReleaseLstat | null {
  const { minEntries = HELPER_MIN_ENTRIES, maxEntries = Number.POSITIVE_INFINITY } = o;
  let entries = 0;
  const count = (hash: ObjectHash): boolean => {
    const tree = objects.treeInMemory(hash);
    if (!tree) return false;
    entries += tree.entries.length;
    if (entries > maxEntries) return false;
    for (const e of tree.entries) if (e.type === 'dir' && !count(e.hash!)) return false;
    return true;
  };
  if (!count(root) || entries < minEntries) return null;
  const list: LstatJob[] = [];
  const jobs = new Map<string, number>();
  const visit = (rel: string, hash: ObjectHash): void => {
    const tree = objects.treeInMemory(hash)!;
    jobs.set(rel, list.length);
    list.push({ dir: rel ? `${dir}/${rel}` : dir, names: tree.entries.map((e) => e.name) });
    for (const e of tree.entries) if (e.type === 'dir') visit(rel ? `${rel}/${e.name}` : e.name, e.hash!);
  };
  visit('', root);
  const helper = LstatAhead.start(list, minEntries);
  return helper && { helper, list, jobs };
}
