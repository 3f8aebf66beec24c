import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { inodeKey, removeTree, type ChunkIndex, type InodeCache, type ObjectStore, type ReleaseStore } from '../store/index.js';
import { pruneInodeMaps } from './inode-map.js';
import { treePackName } from './release-files.js';
import { progressPath, removeProgress } from './stage-progress.js';

export interface GcResult {
  kept: number[];
  removed: Array<{ version: number; freedBytes: number }>;
  /** Bytes of inodes that no retained release shares. */
  freedBytes: number;
  /** Abandoned staging areas of versions at or below the newest materialized one. */
  stagingRemoved: number[];
}

/** The materialized versions (ascending) that `keep` and `protect` leave for deletion. Pure. */
export function beyondKeep(have: readonly number[], keep: number, protect: Iterable<number>): number[] {
  const kept = new Set([...have.slice(-keep), ...protect]);
  return have.filter((v) => !kept.has(v));
}

/**
 * Deletes the trees of materialized releases beyond the `keep` newest, never one in `protect`
 * (live, pinned). Signed heads and objects stay: a deleted release can be staged again.
 */
export async function collectGarbage(o: {
  releases: ReleaseStore;
  keep: number;
  protect: Iterable<number>;
  chunkIndex?: ChunkIndex;
  /** Kept across the unlinks, for the inodes that kept releases share with removed ones. */
  inodes?: InodeCache;
  /** Its packs of releases no longer on disk go too. */
  objects?: ObjectStore;
}): Promise<GcResult> {
  const { releases } = o;
  const have = await releases.materialized();
  const doomed = beyondKeep(have, o.keep, o.protect);
  const result: GcResult = { kept: have.filter((v) => !doomed.includes(v)), removed: [], freedBytes: 0, stagingRemoved: [] };
  for (const version of doomed) {
    const dir = releases.releasePath(version);
    // Before the tree goes, so that nothing serves chunks from files being deleted.
    o.chunkIndex?.dropRelease(version);
    const freedBytes = await soleBytes(dir);
    await removeTree(dir, o.inodes ? { cache: o.inodes } : {});
    result.removed.push({ version, freedBytes });
    result.freedBytes += freedBytes;
  }
  const newest = have[have.length - 1] ?? 0;
  for (const name of await readdir(releases.stagingDir).catch(() => [] as string[])) {
    if (!/^\d+$/.test(name) || Number(name) > newest) continue;
    await removeTree(releases.stagingPath(Number(name)), o.inodes ? { cache: o.inodes } : {});
    await removeProgress(progressPath(releases, Number(name)));
    result.stagingRemoved.push(Number(name));
  }
  if (o.objects) {
    const roots = new Set<string>();
    for (const v of [...result.kept, ...(await readdir(releases.stagingDir).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number)]) {
      const root = (await releases.head(v).catch(() => null))?.body.root;
      if (root) roots.add(root).add(treePackName(root));
    }
    for (const name of o.objects.packs()) if (!roots.has(name)) o.objects.dropPack(name);
  }
  await pruneInodeMaps(releases, result.kept);
  await o.inodes?.save();
  return result;
}

/** Bytes of the regular files whose every link lies inside dir: what deleting dir frees. */
async function soleBytes(dir: string): Promise<number> {
  const inodes = new Map<string, { nlink: number; seen: number; size: number }>();
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `listing ${d}`);
    }
    for (const name of names) {
      const st = await lstat(join(d, name));
      if (st.isDirectory()) await walk(join(d, name));
      else if (st.isFile()) {
        const key = inodeKey(st);
        const i = inodes.get(key) ?? { nlink: st.nlink, seen: 0, size: st.size };
        i.seen++;
        inodes.set(key, i);
      }
    }
  };
  await walk(dir);
  let bytes = 0;
  for (const i of inodes.values()) if (i.seen === i.nlink) bytes += i.size;
  return bytes;
}
