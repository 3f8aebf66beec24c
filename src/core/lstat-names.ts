import { lstatSync, type Stats } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

/**
 * lstat of each of `names` in the directory `dir` (undefined where a name is not there), relative
 * to the directory as fts(3) does: the kernel resolves one component per name instead of every
 * component of the full path, a quarter less time per call twelve components deep (50,000 files:
 * 145 against 195 ms here), and a quick check of 10^5 files is nothing but these calls. Never
 * follows a symlink named in `names`.
 *
 * The working directory is `dir` only within this synchronous call, and every path chunkswarm uses
 * is absolute. Null where that cannot be done as it should (a worker thread, a directory that cannot
 * be entered, or that is no longer `expect`, a name whose lstat fails): the caller then looks each
 * name up by its full path, with its own errors.
 */
export function lstatNames(dir: string, names: readonly string[], expect?: { dev: number; ino: number }): Array<Stats | undefined> | null {
  if (!isMainThread || names.length === 0) return null;
  let home: string;
  try {
    home = process.cwd();
  } catch {
    return null;
  }
  const out = new Array<Stats | undefined>(names.length);
  let entered = false;
  try {
    process.chdir(dir);
    entered = true;
    const here = lstatSync('.');
    if (expect && (here.dev !== expect.dev || here.ino !== expect.ino)) return null;
    for (let i = 0; i < names.length; i++) out[i] = lstatSync(names[i]!, { throwIfNoEntry: false });
    return out;
  } catch {
    return null;
  } finally {
    if (entered) process.chdir(home);
  }
}
