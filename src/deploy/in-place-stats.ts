import type { Stats } from 'node:fs';
import { lstatNames } from '../core/index.js';
import type { ReleaseEntry } from './release-files.js';
import { parentOf } from './stage-fs.js';

/**
 * The lstat of each file of a release at its path under `base`, taken a directory at a time,
 * relative to the directory (lstatNames: the kernel resolves one component per name instead of
 * every component of the full path), when the first of its files is asked for. For a tree whose
 * every file is looked at: the publisher's recycled tree, checked in place before any follower
 * hears of the release.
 */
export class InPlaceStats {
  private readonly dirOf: Int32Array;
  private readonly dirs: string[] = [];
  private readonly members: number[][] = [];
  private readonly fetched: boolean[] = [];
  private readonly stats: Array<Stats | null | undefined>;

  constructor(
    private readonly base: string,
    private readonly files: readonly ReleaseEntry[],
  ) {
    this.dirOf = new Int32Array(files.length);
    this.stats = new Array<Stats | null | undefined>(files.length);
    const ids = new Map<string, number>();
    files.forEach((f, i) => {
      const dir = parentOf(f.path);
      let d = ids.get(dir);
      if (d === undefined) {
        d = this.dirs.length;
        ids.set(dir, d);
        this.dirs.push(dir);
        this.members.push([]);
        this.fetched.push(false);
      }
      this.dirOf[i] = d;
      this.members[d]!.push(i);
    });
  }

  /**
   * File i's lstat (null: nothing there), once; undefined where it could not be taken so (a
   * directory gone or not one), or when asked again: the caller then looks the path up itself.
   */
  take(i: number): Stats | null | undefined {
    const d = this.dirOf[i]!;
    if (!this.fetched[d]) this.fetch(d);
    const st = this.stats[i];
    this.stats[i] = undefined;
    return st;
  }

  private fetch(d: number): void {
    this.fetched[d] = true;
    const dir = this.dirs[d]!;
    const members = this.members[d]!;
    const found = lstatNames(dir === '' ? this.base : `${this.base}/${dir}`, members.map((i) => this.files[i]!.entry.name));
    if (found === null) return;
    members.forEach((i, k) => {
      this.stats[i] = found[k] ?? null;
    });
  }
}
