import { lstatSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWrite, inodeKey, type ReleaseStore } from '../store/index.js';

/**
 * Which inode each file of a release tree is, recorded when the tree is completed, with the state
 * (inode, mtime, ctime) of each directory at that moment. Renaming, linking, creating or removing
 * a name in a directory moves its mtime and ctime, and ctime cannot be set back: while a
 * directory's state is the recorded one, its names still lead to the recorded inodes. That is
 * what the names are worth, not the inodes' content: whoever trusts a mapped inode must have its
 * state checked some other way (see sharedWithLive). Only ever a shortcut: anything missing,
 * unreadable or changed means "look".
 */

const FORMAT = 1;
/**
 * A directory changed within this many ms of its record could change again within the same tick
 * of the kernel's clock (1-10 ms) and keep its ctime: its record waits that long.
 */
const RACY_MS = 20;

/** [path, directory inode, mtimeMs, ctimeMs, names of its files, their inodes]. */
type DirRecord = [string, string, number, number, string[], string[]];

export function inodeMapPath(releases: ReleaseStore, version: number): string {
  return join(releases.dataDir, 'inode-maps', `${version}.json`);
}

/**
 * Records the inodes of the files of release `version`, whose tree is `dir`, by release path. The
 * root's own state is not a witness (it is renamed and sealed after completion): files at the root
 * are left out. Saving only saves work later: a failure is ignored.
 */
export async function recordInodeMap(releases: ReleaseStore, version: number, dir: string, files: ReadonlyMap<string, string>): Promise<void> {
  const byDir = new Map<string, { names: string[]; inodes: string[] }>();
  for (const [path, inode] of files) {
    const slash = path.lastIndexOf('/');
    if (slash < 0) continue;
    const parent = path.slice(0, slash);
    let d = byDir.get(parent);
    if (!d) byDir.set(parent, (d = { names: [], inodes: [] }));
    d.names.push(path.slice(slash + 1));
    d.inodes.push(inode);
  }
  const stamp = () => [...byDir].map(([path]) => lstatSync(`${dir}/${path}`, { throwIfNoEntry: false }));
  let states = stamp();
  const newest = Math.max(0, ...states.map((st) => (st ? Math.max(st.mtimeMs, st.ctimeMs) : 0)));
  const wait = newest + RACY_MS - Date.now();
  if (wait > 0) {
    await new Promise((r) => setTimeout(r, wait));
    states = stamp();
  }
  const dirs: DirRecord[] = [];
  let i = 0;
  for (const [path, d] of byDir) {
    const st = states[i++];
    if (st?.isDirectory()) dirs.push([path, inodeKey(st), st.mtimeMs, st.ctimeMs, d.names, d.inodes]);
  }
  const out = inodeMapPath(releases, version);
  try {
    await mkdir(join(releases.dataDir, 'inode-maps'), { recursive: true });
    await atomicWrite(out, JSON.stringify({ format: FORMAT, dirs }), { durable: false });
  } catch {
    await rm(out, { force: true }).catch(() => undefined);
  }
}

/**
 * The files of release `version`'s map whose directory under `dir` (where its tree is now) is as
 * recorded: release path -> inode ("dev:ino"). Empty if there is no usable map.
 */
export async function loadInodeMap(releases: ReleaseStore, version: number, dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let dirs: DirRecord[];
  try {
    const parsed = JSON.parse(await readFile(inodeMapPath(releases, version), 'utf8')) as { format?: unknown; dirs?: unknown };
    if (parsed.format !== FORMAT || !Array.isArray(parsed.dirs)) return out;
    dirs = parsed.dirs as DirRecord[];
  } catch {
    return out;
  }
  for (const rec of dirs) {
    if (!Array.isArray(rec) || rec.length !== 6) return new Map();
    const [path, inode, mtimeMs, ctimeMs, names, inodes] = rec;
    if (typeof path !== 'string' || !Array.isArray(names) || !Array.isArray(inodes) || names.length !== inodes.length) return new Map();
    let st;
    try {
      st = lstatSync(`${dir}/${path}`, { throwIfNoEntry: false });
    } catch {
      continue;
    }
    if (!st?.isDirectory() || inodeKey(st) !== inode || st.mtimeMs !== mtimeMs || st.ctimeMs !== ctimeMs) continue;
    for (let j = 0; j < names.length; j++) out.set(`${path}/${names[j]}`, inodes[j]!);
  }
  return out;
}

/**
 * The paths at which the tree of release `recycled` (now at `dir`) holds the very inode that the
 * live release holds at the same path, both known from their maps without a look at the files.
 * Such an inode is checked by the verification of the live tree before the switch
 * (checkFreshTarget trusts a linked inode only if that found it clean), so staging may keep it
 * unseen. Read before staging changes any directory of `dir`.
 */
export async function sharedWithLive(releases: ReleaseStore, recycled: number, dir: string, live: number): Promise<Map<string, string>> {
  const mine = await loadInodeMap(releases, recycled, dir);
  if (mine.size === 0) return mine;
  const theirs = await loadInodeMap(releases, live, releases.releasePath(live));
  const out = new Map<string, string>();
  for (const [path, inode] of mine) if (theirs.get(path) === inode) out.set(path, inode);
  return out;
}

/** Removes the maps of releases no longer on disk. */
export async function pruneInodeMaps(releases: ReleaseStore, kept: readonly number[]): Promise<void> {
  const dir = join(releases.dataDir, 'inode-maps');
  const keep = new Set(kept.map((v) => `${v}.json`));
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!keep.has(name)) await rm(join(dir, name), { force: true }).catch(() => undefined);
  }
}
