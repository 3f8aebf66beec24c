import { randomFillSync } from 'node:crypto';
import { appendFile, open, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface EditSpec {
  /** Files whose bytes change in the middle, size unchanged. */
  edit: number;
  /** Files that grow at the end (a log, a config with a new line). */
  append: number;
  /** New files, next to existing ones. */
  add: number;
  /** Files deleted. */
  remove: number;
  seed?: number;
}

export interface EditResult {
  edited: string[];
  appended: string[];
  added: string[];
  removed: string[];
  /** The tree's files after the edit: the next edit's `paths`. */
  paths: string[];
}

/** The usual shape of a ~1% release: mostly edits, some appends, a few files added and removed. */
export function onePercent(files: number, seed = 1): EditSpec {
  return { edit: Math.round(files * 0.005), append: Math.round(files * 0.0025), add: Math.round(files * 0.0012), remove: Math.round(files * 0.0012), seed };
}

/**
 * Applies a release's worth of changes to a generated tree (paths relative to `root`), spread
 * over the whole tree by a seeded shuffle, so that the same seed edits the same files.
 */
export async function editTree(root: string, paths: readonly string[], spec: EditSpec): Promise<EditResult> {
  let s = spec.seed ?? 1;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const order = paths.slice();
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const need = spec.edit + spec.append + spec.remove;
  if (need > order.length) throw new Error(`cannot change ${need} of ${order.length} files`);
  const out: EditResult = { edited: [], appended: [], added: [], removed: [], paths: [] };
  const noise = (n: number) => randomFillSync(Buffer.allocUnsafe(n));
  let at = 0;
  for (const rel of order.slice(at, (at += spec.edit))) {
    const path = join(root, rel);
    const { size } = await stat(path);
    if (size === 0) await writeFile(path, noise(64));
    else {
      // 64 bytes in the middle: one chunk changes, the file keeps its size (rsync sees the mtime).
      const fh = await open(path, 'r+');
      await fh.write(noise(Math.min(64, size)), 0, Math.min(64, size), Math.floor(size / 2));
      await fh.close();
    }
    out.edited.push(rel);
  }
  for (const rel of order.slice(at, (at += spec.append))) {
    await appendFile(join(root, rel), noise(200));
    out.appended.push(rel);
  }
  for (const rel of order.slice(at, (at += spec.remove))) {
    await unlink(join(root, rel));
    out.removed.push(rel);
  }
  for (let i = 0; i < spec.add; i++) {
    const rel = join(dirname(order[Math.floor(rnd() * order.length)]!), `added-${i}.dat`);
    await writeFile(join(root, rel), noise(4096));
    out.added.push(rel);
  }
  const gone = new Set(out.removed);
  out.paths = [...paths.filter((p) => !gone.has(p)), ...out.added];
  return out;
}
