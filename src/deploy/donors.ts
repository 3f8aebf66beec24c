import { lstatSync, type Stats } from 'node:fs';
import { ChunkswarmError, andThen, type MaybePromise, type ObjectHash } from '../core/index.js';
import { walkTree, type TreeEntry } from '../manifest/index.js';
import { inodeKey, type InodeCache, type InodeStat, type ObjectStore, type ReleaseStore } from '../store/index.js';
import { DonorTable } from './donor-table.js';
import type { SharedInodes } from './inode-map.js';
import { checkFile } from './file-check.js';
import { InPlaceStats } from './in-place-stats.js';
import type { ChunkSlot, FileAction } from './plan.js';
import type { SizedEntry } from './release-files.js';

export interface DonorSearch {
  root: ObjectHash;
  files: readonly SizedEntry[];
  releases: ReleaseStore;
  objects: ObjectStore;
  inodes: InodeCache;
  /** Searched first, path by path: the live release, whose files are the previous versions. */
  preferred: number | null;
  /** The version being staged: never a donor of itself. */
  exclude: number;
  /** Inodes known to have drifted. */
  tainted: ReadonlySet<string>;
  /** Whether recorded uid/gid are applied (root); then a donor must have them too. */
  owner: boolean;
  /**
   * The tree being built, when it was an old release's (recycleRelease): a path of it that already
   * holds a clean file exactly as the new release has it is its own donor, found with one lstat.
   */
  inPlace?: string | null;
  /**
   * Paths of the `inPlace` tree known without a look to hold the inode that the preferred (live)
   * release holds at the same path (sharedWithLive): kept where the live entry is the new one,
   * unchecked here, since the live tree's verification before the switch checks that inode.
   */
  sharedInPlace?: SharedInodes;
}

export interface DonorsFound {
  /** A clean file for each file of `files` that has one. */
  donors: DonorTable;
  /** The preferred release's file at the same path, where its content differs: a source of unchanged chunks. */
  previous: Map<string, { abs: string; entry: TreeEntry }>;
  /** Files kept in place on sharedInPlace's word. */
  sharedKept: number;
}

/** Same content and the same inode metadata: the old inode can serve the new release as it is. */
export function sameInode(a: TreeEntry | undefined, b: TreeEntry): boolean {
  return a !== undefined && a.type === 'file' && b.type === 'file' && a.hash === b.hash &&
    a.mode === b.mode && a.mtime === b.mtime && a.uid === b.uid && a.gid === b.gid;
}

/**
 * The files of retained releases that may lend their inode to the new release (or, with `inPlace`,
 * the file already at the path). The preferred release is compared path by path, walking both
 * trees at once (an unchanged subtree is taken whole, by its hash); the remaining files are
 * looked up by content in every retained release. Each candidate is checked at lstat speed:
 * exactly the release's metadata on disk, and the inode cache vouches for its content (a cache
 * miss hashes the file once). A drifted file is never a donor.
 */
export async function findDonors(q: DonorSearch): Promise<DonorsFound> {
  const out: DonorsFound = { donors: new DonorTable(q.files), previous: new Map(), sharedKept: 0 };
  const check = donorCheck(q);
  const wanted: number[] = [];
  /** A file the live release holds as the very inode at its path in the tree being built: kept without a look (sharedInPlace). */
  const keptShared = (i: number, live?: TreeEntry): boolean => {
    const shared = q.sharedInPlace;
    if (!q.inPlace || !shared) return false;
    const { path, entry } = q.files[i]!;
    const ino = shared.inoAt(path, entry.name);
    if (ino === undefined || !sameInode(live, entry) || (q.tainted.size > 0 && q.tainted.has(inodeKey({ dev: shared.dev, ino })))) return false;
    out.donors.set(i, q.inPlace, { dev: shared.dev, ino }, { linked: false });
    out.sharedKept++;
    return true;
  };
  // Every file of the tree is looked at where no inode maps vouch for most of them (the publisher's).
  const ahead = q.inPlace && !q.sharedInPlace ? new InPlaceStats(q.inPlace, q.files) : null;
  /** The file at its path in the tree being built, checked (keptShared went first where it can hold). */
  const inPlace = (i: number): MaybePromise<boolean> => {
    if (!q.inPlace) return false;
    const { path, entry, size } = q.files[i]!;
    return andThen(check(`${q.inPlace}/${path}`, entry, size, ahead?.take(i)), (st) => {
      if (st) out.donors.set(i, q.inPlace!, st, { linked: false });
      return st !== null;
    });
  };
  if (q.preferred !== null && q.preferred !== q.exclude && (await q.releases.materialized()).includes(q.preferred)) {
    const base = q.releases.releasePath(q.preferred);
    const oldRoot = (await q.releases.head(q.preferred)).body.root;
    let i = 0;
    const fromPreferred = (at: number, entry: TreeEntry, old: TreeEntry | undefined): MaybePromise<void> => {
      const f = q.files[at]!;
      if (sameInode(old, entry)) {
        return andThen(check(`${base}/${f.path}`, entry, f.size), (st) => {
          if (st) out.donors.set(at, base, st, { linked: true });
          else wanted.push(at);
        });
      }
      if (old?.type === 'file') out.previous.set(f.path, { abs: `${base}/${f.path}`, entry: old });
      wanted.push(at);
    };
    const other = (at: number, entry: TreeEntry, old: TreeEntry | undefined): MaybePromise<void> =>
      andThen(inPlace(at), (kept) => (kept ? undefined : fromPreferred(at, entry, old)));
    // Synchronous for a file kept on the maps' word or vouched for by the inode cache (nearly
    // every file of a steady update): a promise and an await per file were most of the walk.
    await pairWalk(q.objects, q.root, oldRoot, (entry, old) => {
      const f = q.files[i];
      // Both walks are the canonical order; the files' own path strings are used, none is built.
      if (!f || f.entry.hash !== entry.hash || f.entry.name !== entry.name) {
        throw ChunkswarmError.badObject(`the release's trees hold ${entry.name} where its file list has ${f?.path ?? 'no more files'}`);
      }
      const at = i++;
      return keptShared(at, old) ? undefined : other(at, entry, old);
    });
  } else {
    for (let i = 0; i < q.files.length; i++) if (!(await inPlace(i))) wanted.push(i);
  }
  if (wanted.length === 0) return out;
  // The rest, by content, in every retained release (the preferred one too: a file may have moved).
  const byHash = new Map<string, Array<{ base: string; path: string; entry: TreeEntry }>>();
  const hashes = new Set(wanted.map((i) => q.files[i]!.entry.hash!));
  for (const v of (await q.releases.materialized()).reverse()) {
    if (v === q.exclude) continue;
    const base = q.releases.releasePath(v);
    await walkTree((await q.releases.head(v)).body.root, (h) => q.objects.getTree(h), (path, e) => {
      if (e.type !== 'file' || !hashes.has(e.hash!)) return;
      const list = byHash.get(e.hash!) ?? [];
      list.push({ base, path, entry: e });
      byHash.set(e.hash!, list);
    });
  }
  for (const i of wanted) {
    const w = q.files[i]!;
    for (const c of byHash.get(w.entry.hash!) ?? []) {
      if (!sameInode(c.entry, w.entry)) continue;
      const st = await check(`${c.base}/${c.path}`, w.entry, w.size);
      if (st) {
        out.donors.set(i, c.base, st, { path: c.path, linked: true });
        break;
      }
    }
  }
  return out;
}

/**
 * Chunks of the previous versions of the files to write (rsync's basis files): an edited or
 * appended file keeps most of its chunks. Only files the inode cache vouches for are read.
 */
export async function previousChunks(
  q: Pick<DonorSearch, 'objects' | 'inodes' | 'tainted'>,
  previous: DonorsFound['previous'],
  actions: readonly FileAction[],
): Promise<Map<string, ChunkSlot>> {
  const out = new Map<string, ChunkSlot>();
  for (const a of actions) {
    const prev = a.kind === 'write' ? previous.get(a.path) : undefined;
    if (!prev) continue;
    const st = lstatSync(prev.abs, { throwIfNoEntry: false });
    if (!st?.isFile() || q.tainted.has(inodeKey(st)) || q.inodes.hashOf(st) !== prev.entry.hash) continue;
    let offset = 0;
    for (const c of (await q.objects.getFile(prev.entry.hash!)).chunks) {
      if (!out.has(c.hash)) out.set(c.hash, { path: prev.abs, offset });
      offset += c.size;
    }
  }
  return out;
}

/** The state of `abs` if it can serve `entry` as it is (not drifted, exactly its metadata), else null; `known` as checkFile's. */
function donorCheck(q: DonorSearch): (abs: string, entry: TreeEntry, size: number, known?: Stats | null) => MaybePromise<InodeStat | null> {
  return (abs, entry, size, known) =>
    andThen(checkFile(abs, entry, size, q.inodes, q.owner, known), ({ st, drift }) => (st && drift === null && !q.tainted.has(inodeKey(st)) ? st : null));
}

/**
 * Visits every file of the tree `root`, in canonical order, with the entry of the same path in
 * `old` (if any). A subtree whose hash is the same in both is walked once, every file being its
 * own old entry.
 */
async function pairWalk(
  objects: ObjectStore,
  root: ObjectHash,
  old: ObjectHash | null,
  visit: (entry: TreeEntry, old: TreeEntry | undefined) => void | Promise<void>,
): Promise<void> {
  const tree = await objects.getTree(root);
  const before = old === null ? new Map<string, TreeEntry>() : new Map((await objects.getTree(old)).entries.map((e) => [e.name, e]));
  for (const e of tree.entries) {
    const o = before.get(e.name);
    if (e.type === 'file') {
      const visited = visit(e, o);
      if (visited) await visited;
    } else if (e.type !== 'dir') continue;
    else if (o?.type === 'dir' && o.hash === e.hash) await walkTree(e.hash!, (h) => objects.getTree(h), (_p, x) => (x.type === 'file' ? visit(x, x) : undefined));
    else await pairWalk(objects, e.hash!, o?.type === 'dir' ? o.hash! : null, visit);
  }
}
