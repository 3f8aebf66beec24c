import type { Stats } from 'node:fs';
import { lstatNames } from '../core/index.js';
import type { SizedEntry } from './release-files.js';

/**
 * The lstat of the files of a tree, in the order of a release's file list, taken for a run of one
 * directory's files at a time (lstatNames: one path component resolved per file, not a dozen).
 * Checking every kept file of a recycled tree is little but these calls: 50,000 of them in a
 * publish of a 1 % change. A state taken a little before its check is as good as one taken at it:
 * the donor's state is compared again when it is linked.
 */
export class RunStats {
  private from = 0;
  private to = 0;
  private stats: Array<Stats | undefined> | null = null;

  constructor(
    private readonly base: string,
    private readonly files: ReadonlyArray<Pick<SizedEntry, 'path'>>,
  ) {}

  /** File i's lstat (null: not there), or undefined where it was not taken (the caller takes it). */
  at(i: number): Stats | null | undefined {
    if (i < this.from || i >= this.to) this.load(i);
    return this.stats === null ? undefined : (this.stats[i - this.from] ?? null);
  }

  private load(i: number): void {
    const path = this.files[i]!.path;
    const slash = path.lastIndexOf('/');
    const dir = path.slice(0, slash + 1);
    const names: string[] = [];
    let j = i;
    for (; j < this.files.length; j++) {
      const p = this.files[j]!.path;
      if (p.lastIndexOf('/') !== slash || !p.startsWith(dir)) break;
      names.push(p.slice(slash + 1));
    }
    this.from = i;
    this.to = j;
    this.stats = lstatNames(slash < 0 ? this.base : `${this.base}/${path.slice(0, slash)}`, names);
  }
}
