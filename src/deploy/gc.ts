import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { inodeKey, removeTree, type ChunkIndex, type InodeCache, type JournalCompaction, type ObjectStore, type ReleaseStore } from '../store/index.js';
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
  /** The object journals rewritten without the objects of releases no longer on disk, if they were. */
  objects: JournalCompaction | null;
}

/** What the object journals may hold beyond twice the objects of the releases kept before they are compacted. */
const JOURNAL_SLACK = 16 << 20;
/** The newest releases whose objects stay, whether or not their trees do: this many times releases.keep. */
const OBJECTS_KEPT_PER_KEEP = 2;

/** What gc keeps of old releases' objects, for the messages that refuse a release whose objects went. */
export function objectsKeptNote(keep: number): string {
  return `gc keeps the objects of the ${OBJECTS_KEPT_PER_KEEP * keep} newest releases only (${OBJECTS_KEPT_PER_KEEP} x releases.keep)`;
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
  /** Its packs of releases no longer on disk go too, and its objects of releases older than the newest 2 x keep (compactObjects). */
  objects?: ObjectStore;
  /** What the journals may hold beyond twice a release's objects before they are compacted (tests set it low). */
  journalSlackBytes?: number;
}): Promise<GcResult> {
  const { releases } = o;
  const have = await releases.materialized();
  const doomed = beyondKeep(have, o.keep, o.protect);
  const result: GcResult = { kept: have.filter((v) => !doomed.includes(v)), removed: [], freedBytes: 0, stagingRemoved: [], objects: null };
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
    const staging = (await readdir(releases.stagingDir).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number);
    const onDisk = new Set([...result.kept, ...staging]);
    // Objects stay for the newest releases too, on disk or not: the one a node may be fetching
    // before it stages, and those a rollback can still stage again from the files of the releases kept.
    const newest = (await releases.versions()).slice(-OBJECTS_KEPT_PER_KEEP * o.keep);
    const roots = new Map<number, ObjectHash>();
    for (const v of new Set([...onDisk, ...newest])) {
      const root = (await releases.head(v).catch(() => null))?.body.root;
      if (root) roots.set(v, root);
    }
    const packed = new Set([...roots].filter(([v]) => onDisk.has(v)).flatMap(([, r]) => [r, treePackName(r)]));
    for (const name of o.objects.packs()) if (!packed.has(name)) o.objects.dropPack(name);
    result.objects = await compactObjects(o.objects, [...new Set(roots.values())], o.journalSlackBytes ?? JOURNAL_SLACK);
  }
  await pruneInodeMaps(releases, result.kept);
  await o.inodes?.save();
  return result;
}

/** One line on a compaction, for the log and the `gc` command. */
export function compactionText(c: JournalCompaction): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  return `object journals compacted: ${mb(c.bytesBefore)} in ${c.files} files -> ${mb(c.bytesAfter)}; ${c.dropped} objects of releases no longer on disk dropped`;
}

/**
 * Drops from the object journals what no release in `roots` reaches, once they hold more than
 * twice what the last compaction kept (or the largest of those releases' packs) and `slack`:
 * every release adds the tree objects of the directories it changes (2.4 MB for one that touches
 * each of the 200 directories of a 50,000-file tree), and the journals, which every process scans
 * when it starts, grew with every release ever staged. An older release whose tree is gone is
 * staged again only from the files of the releases kept, which hold less of it with every release.
 * Null when nothing was compacted (below the threshold, a fetch running, no file to rewrite).
 */
async function compactObjects(objects: ObjectStore, roots: readonly ObjectHash[], slack: number): Promise<JournalCompaction | null> {
  const largest = Math.max(objects.journalKeptBytes(), ...roots.map((r) => objects.packSize(r) + objects.packSize(treePackName(r))));
  if (objects.journalBytes() <= 2 * largest + slack) return null;
  const keep = new Set<string>();
  for (const root of roots) {
    objects.loadPack(treePackName(root));
    const stack = [root];
    while (stack.length > 0) {
      const hash = stack.pop()!;
      if (keep.has(hash)) continue;
      // A tree missing or damaged here is fetched again, with what lies below it, when it is needed.
      const tree = await objects.localTree(hash);
      if (!tree) continue;
      keep.add(hash);
      for (const e of tree.entries) {
        if (e.type === 'file') keep.add(e.hash!);
        else if (e.type === 'dir') stack.push(e.hash!);
      }
    }
  }
  const done = objects.compact(keep);
  return done !== null && done.files > 0 ? done : null;
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
