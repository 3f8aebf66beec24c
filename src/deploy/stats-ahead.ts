import type { EntryStat, ObjectHash } from '../core/index.js';
import type { ObjectStore } from '../store/index.js';
import { lstatAheadOf, type ReleaseLstat } from './release-lstat.js';
import { lstatSyncOrNull } from './stage-fs.js';

/** A path's lstat as the helper took it: `st` undefined where nothing was there. */
export interface StatAhead {
  st: EntryStat | undefined;
}

/**
 * The lstats of a tree taken by a helper thread before the tree is checked, possibly under another
 * name: the publisher has its old release's tree lstatted while it scans its source (one core each,
 * where the check after the scan had one core and left the other idle), and checks the tree once
 * it is renamed into staging. A directory's answers hold only while it is the same directory
 * (dev, ino) when they are read; what the reader itself replaced in the tree since, it lstats again.
 */
export class StatsAhead {
  private readonly taken = new Map<number, Map<string, EntryStat | undefined> | null>();
  private readonly replaced = new Set<string>();

  private constructor(private readonly ahead: ReleaseLstat) {}

  /**
   * A helper for the tree at `dir` laid out as the release `root` (see lstatAheadOf), or null where
   * one would not pay (fewer than `minEntries` entries) or the release's trees are not in memory.
   */
  static start(dir: string, root: ObjectHash, objects: ObjectStore, o: { minEntries: number; maxEntries: number }): StatsAhead | null {
    const ahead = lstatAheadOf(dir, root, objects, o);
    return ahead && new StatsAhead(ahead);
  }

  /**
   * The lstat the helper took of `path` (relative to the tree), where `tree` is the tree's present
   * name; null where it is not known: the caller lstats it.
   */
  statOf(tree: string, path: string): StatAhead | null {
    if (this.replaced.has(path)) return null;
    const cut = path.lastIndexOf('/');
    const job = this.ahead.jobs.get(cut < 0 ? '' : path.slice(0, cut));
    if (job === undefined) return null;
    let names = this.taken.get(job);
    if (names === undefined) {
      names = this.take(job, cut < 0 ? tree : `${tree}/${path.slice(0, cut)}`);
      this.taken.set(job, names);
    }
    const name = cut < 0 ? path : path.slice(cut + 1);
    return names !== null && names.has(name) ? { st: names.get(name) } : null;
  }

  /** Paths the reader itself replaced in the tree since the helper took them: statOf knows them no longer. */
  forget(paths: Iterable<string>): void {
    for (const p of paths) this.replaced.add(p);
  }

  /** Lets go of the helper thread (see LstatAhead.close). */
  close(): Promise<void> {
    return this.ahead.helper.close();
  }

  private take(job: number, dir: string): Map<string, EntryStat | undefined> | null {
    const now = lstatSyncOrNull(dir);
    const stats = now?.isDirectory() ? this.ahead.helper.answered(job, now) : null;
    if (stats === null) return null;
    const names = this.ahead.list[job]!.names;
    return new Map(names.map((n, k) => [n, stats[k]]));
  }
}
