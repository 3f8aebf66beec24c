import { lstatSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWrite, type ReleaseStore } from '../store/index.js';

/**
 * Which inode each file of a release tree is, recorded when the tree is completed, with the state
 * (inode, mtime, ctime) of each directory at that moment. Renaming, linking, creating or removing
 * a name in a directory moves its mtime and ctime, and ctime cannot be set back: while a
 * directory's state is the recorded one, its names still lead to the recorded inodes. That is
 * what the names are worth, not the inodes' content: whoever trusts a mapped inode must have its
 * state checked some other way (see sharedWithLive). Only ever a shortcut: anything missing,
 * unreadable or changed means "look".
 */

const FORMAT = 2;
/**
 * A directory changed within this many ms of its record could change again within the same tick
 * of the kernel's clock (1-10 ms) and keep its ctime: its record waits that long.
 */
const RACY_MS = 20;

/** [path, directory inode, mtimeMs, ctimeMs, names of its files, their inode numbers]. */
type DirRecord = [string, number, number, number, string[], number[]];
/** Hard links never cross file systems: every file of a tree is on its root's device. */
interface MapFile {
  format: number;
  dev: number;
  dirs: DirRecord[];
}

/** A directory found as recorded: its files' names and inode numbers. */
interface DirFiles {
  names: string[];
  inos: number[];
}

export function inodeMapPath(releases: ReleaseStore, version: number): string {
  return join(releases.dataDir, 'inode-maps', `${version}.json`);
}

/**
 * Records the inodes of the files of release `version`, whose tree is `dir`, by release path. The
 * root's own state is not a witness (it is renamed and sealed after completion): files at the root
 * are left out. Saving only saves work later: a failure is ignored.
 */
export async function recordInodeMap(
  releases: ReleaseStore,
  version: number,
  dir: string,
  files: Iterable<readonly [path: string, name: string, inode: { dev: number; ino: number }]>,
): Promise<void> {
  const out = inodeMapPath(releases, version);
  try {
    const root = lstatSync(dir);
    const byDir = new Map<string, DirFiles>();
    // A directory's record is looked up once per run of its files (dirOf). Each file's name is
    // its tree entry's own string.
    let parent: string | null = null;
    let d: DirFiles | undefined;
    for (const [path, name, inode] of files) {
      if (inode.dev !== root.dev) continue;
      const dir = dirOf(path, name, parent);
      if (dir === null) continue;
      if (dir !== parent) {
        parent = dir;
        d = byDir.get(dir);
        if (!d) byDir.set(dir, (d = { names: [], inos: [] }));
      }
      d!.names.push(name);
      d!.inos.push(inode.ino);
    }
    const stamp = () => [...byDir.keys()].map((path) => lstatSync(`${dir}/${path}`, { throwIfNoEntry: false }));
    let states = stamp();
    const newest = states.reduce((m, st) => (st ? Math.max(m, st.mtimeMs, st.ctimeMs) : m), 0);
    const wait = newest + RACY_MS - Date.now();
    if (wait > 0) {
      await new Promise((r) => setTimeout(r, wait));
      states = stamp();
    }
    const dirs: DirRecord[] = [];
    let i = 0;
    for (const [path, d] of byDir) {
      const st = states[i++];
      if (st?.isDirectory() && st.dev === root.dev) dirs.push([path, st.ino, st.mtimeMs, st.ctimeMs, d.names, d.inos]);
    }
    await mkdir(join(releases.dataDir, 'inode-maps'), { recursive: true });
    await atomicWrite(out, JSON.stringify({ format: FORMAT, dev: root.dev, dirs } satisfies MapFile), { durable: false });
  } catch {
    // No map, rather than one of an earlier tree of this version.
    await rm(out, { force: true }).catch(() => undefined);
  }
}

/**
 * The directories of release `version`'s map that are, under `dir` (where its tree is now), as
 * recorded, by release path, with the device of their files. Null if there is no usable map.
 */
async function loadDirs(releases: ReleaseStore, version: number, dir: string): Promise<{ dev: number; dirs: Map<string, DirFiles> } | null> {
  let map: MapFile;
  try {
    map = JSON.parse(await readFile(inodeMapPath(releases, version), 'utf8')) as MapFile;
  } catch {
    return null;
  }
  if (map?.format !== FORMAT || typeof map.dev !== 'number' || !Array.isArray(map.dirs)) return null;
  const dirs = new Map<string, DirFiles>();
  for (const rec of map.dirs) {
    if (!Array.isArray(rec) || rec.length !== 6) return null;
    const [path, ino, mtimeMs, ctimeMs, names, inos] = rec;
    if (typeof path !== 'string' || !Array.isArray(names) || !Array.isArray(inos) || names.length !== inos.length) return null;
    let st;
    try {
      st = lstatSync(`${dir}/${path}`, { throwIfNoEntry: false });
    } catch {
      continue;
    }
    if (!st?.isDirectory() || st.dev !== map.dev || st.ino !== ino || st.mtimeMs !== mtimeMs || st.ctimeMs !== ctimeMs) continue;
    dirs.set(path, { names, inos });
  }
  return { dev: map.dev, dirs };
}

/**
 * The files of a recycled tree that hold the very inode the live release holds at the same path,
 * by directory and name: the names are the map's own strings, and no path or inode name is built
 * per file (10^5 of each, in a steady update of a 10^5-file release).
 */
export class SharedInodes {
  /** The directory last asked about and its names (see dirOf). */
  private lastDir: string | null = null;
  private lastNames: ReadonlyMap<string, number> | undefined;

  constructor(
    readonly dev: number,
    private readonly dirs: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map(),
  ) {}

  /**
   * The inode number the release path holds in both trees, if their maps say so; `name` is the
   * path's last component (the tree entry's own string: no substring is made per file).
   */
  inoAt(path: string, name: string): number | undefined {
    const dir = dirOf(path, name, this.lastDir);
    if (dir === null) return undefined;
    if (dir !== this.lastDir) {
      this.lastDir = dir;
      this.lastNames = this.dirs.get(dir);
    }
    return this.lastNames?.get(name);
  }
}

const SLASH = 0x2f;

/**
 * The directory of release path `path`, whose last component is `name`; null for a path at the
 * top, or a name that is not its last component. Files come in walk order, a directory's mostly
 * together: `last`, the caller's previous answer, is returned itself while the directory is the
 * same, so that no substring is made per file and the caller can tell a new directory by identity.
 */
function dirOf(path: string, name: string, last: string | null): string | null {
  const slash = path.length - name.length - 1;
  if (slash < 0 || path.charCodeAt(slash) !== SLASH || !path.endsWith(name)) return null;
  return last !== null && last.length === slash && path.startsWith(last) ? last : path.slice(0, slash);
}

/**
 * The paths at which the tree of release `recycled` (now at `dir`) holds the very inode that the
 * live release holds at the same path, both known from their maps without a look at the files.
 * Such an inode is checked by the verification of the live tree before the switch
 * (checkFreshTarget trusts a linked inode only if that found it clean), so staging may keep it
 * unseen. Read before staging changes any directory of `dir`.
 */
export async function sharedWithLive(releases: ReleaseStore, recycled: number, dir: string, live: number): Promise<SharedInodes> {
  const mine = await loadDirs(releases, recycled, dir);
  if (!mine || mine.dirs.size === 0) return new SharedInodes(0);
  const theirs = await loadDirs(releases, live, releases.releasePath(live));
  if (!theirs || theirs.dev !== mine.dev) return new SharedInodes(0);
  const out = new Map<string, Map<string, number>>();
  for (const [path, d] of mine.dirs) {
    const t = theirs.dirs.get(path);
    if (!t) continue;
    // Mostly the same names in the same order; otherwise by name.
    const same = t.names.length === d.names.length && t.names.every((n, j) => n === d.names[j]);
    const inoOf = same ? null : new Map(t.names.map((n, j) => [n, t.inos[j]!]));
    const shared = new Map<string, number>();
    for (let j = 0; j < d.names.length; j++) {
      const ino = d.inos[j]!;
      if ((same ? t.inos[j] : inoOf!.get(d.names[j]!)) === ino) shared.set(d.names[j]!, ino);
    }
    if (shared.size > 0) out.set(path, shared);
  }
  return new SharedInodes(mine.dev, out);
}

/** Removes the maps of releases no longer on disk. */
export async function pruneInodeMaps(releases: ReleaseStore, kept: readonly number[]): Promise<void> {
  const dir = join(releases.dataDir, 'inode-maps');
  const keep = new Set(kept.map((v) => `${v}.json`));
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!keep.has(name)) await rm(join(dir, name), { force: true }).catch(() => undefined);
  }
}
