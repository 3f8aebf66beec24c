import { constants, lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { ChunkswarmError, lstatNames, type EntryStat } from '../core/index.js';
import { nextTurn, turnDue, type ReleaseLstat } from '../deploy/index.js';
import { compareNames } from '../manifest/index.js';
import { inodeKey } from '../store/index.js';

/** The fields a release needs, copied out of fs.Stats: 10^5 retained Stats objects cost GC time. */
export interface SourceStat {
  mode: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
  nlink: number;
  uid: number;
  gid: number;
}

function lean(st: EntryStat): SourceStat {
  return {
    mode: st.mode, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev,
    nlink: st.nlink, uid: st.uid, gid: st.gid,
  };
}

interface ScannedBase {
  name: string;
  /** '/'-joined path relative to the scanned root. */
  path: string;
  stat: SourceStat;
}
export interface ScannedFile extends ScannedBase {
  type: 'file';
  /** Hard-link group inside the tree (1..), set only where two or more paths share an inode. */
  link?: number;
}
export interface ScannedSymlink extends ScannedBase {
  type: 'symlink';
  target: string;
}
export interface ScannedDir extends ScannedBase {
  type: 'dir';
  children: ScannedNode[];
}
export type ScannedNode = ScannedFile | ScannedSymlink | ScannedDir;

export interface ScanResult {
  root: ScannedDir;
  /** Regular files in canonical (depth-first, name-sorted) order. */
  files: ScannedFile[];
  /** Devices, fifos and sockets: a tree image cannot carry them. */
  skipped: Array<{ path: string; kind: string }>;
  dirs: number;
  symlinks: number;
}

function specialKind(mode: number): string {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFBLK:
      return 'block device';
    case constants.S_IFCHR:
      return 'character device';
    case constants.S_IFIFO:
      return 'fifo';
    case constants.S_IFSOCK:
      return 'socket';
    default:
      return 'unknown';
  }
}

function sys<T>(doing: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, doing);
  }
}

/**
 * One lstat per entry; never follows a symlink. Synchronous calls on purpose: 10^5 lstat calls
 * through the libuv thread pool cost several times more than the calls themselves, and a
 * re-publish of an unchanged tree is nothing but this walk. `ahead`, a helper thread given the
 * directories of the newest release under `rootDir` (what the source mostly still is), takes the
 * lstats of those found with the same names, from the last one backwards.
 */
export async function scanSource(rootDir: string, ahead: ReleaseLstat | null = null): Promise<ScanResult> {
  // The root is followed if it is a symlink (/var/www/current -> releases/42): the operator named
  // it; every path below it is taken as it is, never followed.
  const rootStat = sys(`reading source directory ${rootDir}`, () => statSync(rootDir));
  if (!rootStat.isDirectory()) throw ChunkswarmError.usage(`source ${rootDir} is not a directory`);
  const result: ScanResult = {
    root: { type: 'dir', name: '', path: '', stat: lean(rootStat), children: [] },
    files: [],
    skipped: [],
    dirs: 0,
    symlinks: 0,
  };
  await scanDir(rootDir, result.root, { out: result, ahead, entries: 0 });
  assignLinkGroups(result.files);
  return result;
}

/**
 * Names are stored as UTF-8 (tree objects, paths on every node): a name that is not, read as a
 * string, becomes U+FFFD and names no file, so publishing would fail later on a "missing" file.
 * Refused here, naming the bytes (a web root's uploads in Latin-1, an old OS tree's files).
 */
function refuseNonUtf8(abs: string, dirPath: string, names: readonly string[]): void {
  if (!names.some((n) => n.includes('\uFFFD'))) return;
  for (const raw of sys(`listing ${abs}`, () => readdirSync(abs, { encoding: 'buffer' }))) {
    if (Buffer.from(raw.toString('utf8'), 'utf8').equals(raw)) continue;
    const shown = [...raw].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
    throw new ChunkswarmError(
      'E_UNSAFE_PATH',
      `the name of ${dirPath ? `${dirPath}/${shown}` : shown} (in ${abs}) is not valid UTF-8, and release names are UTF-8: ` +
        `rename it (e.g. convmv -f latin1 -t utf-8 -r --notest ${abs})`,
    );
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A scan under way: what it found, its helper, and the entries it went through. */
interface Walk {
  out: ScanResult;
  ahead: ReleaseLstat | null;
  entries: number;
}

async function scanDir(abs: string, dir: ScannedDir, walk: Walk): Promise<void> {
  const { out, ahead } = walk;
  const names = sys(`listing ${abs}`, () => readdirSync(abs)).sort(compareNames);
  refuseNonUtf8(abs, dir.path, names);
  const job = ahead?.jobs.get(dir.path);
  // The helper lstats the release's names: a directory whose names changed is the walk's own.
  const helped = job !== undefined && sameNames(ahead!.list[job]!.names, names) ? await ahead!.helper.take(job, dir.stat) : null;
  const stats = helped ?? lstatNames(abs, names);
  // Names from readdir cannot hold '/' or NUL; encoding the tree validates the rest.
  for (let i = 0; i < names.length; i++) {
    // The helper's answers come in between, and a node serves its peers meanwhile.
    if (turnDue(++walk.entries)) await nextTurn();
    const name = names[i]!;
    const full = `${abs}/${name}`;
    let st: EntryStat;
    try {
      // A name gone since the listing is looked up again by its full path, for the error.
      st = stats?.[i] ?? lstatSync(full);
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `reading ${full}`);
    }
    const path = dir.path ? `${dir.path}/${name}` : name;
    if (st.isDirectory()) {
      const child: ScannedDir = { type: 'dir', name, path, stat: lean(st), children: [] };
      dir.children.push(child);
      out.dirs++;
      await scanDir(full, child, walk);
    } else if (st.isFile()) {
      const child: ScannedFile = { type: 'file', name, path, stat: lean(st) };
      dir.children.push(child);
      out.files.push(child);
    } else if (st.isSymbolicLink()) {
      const target = sys(`reading symlink ${full}`, () => readlinkSync(full));
      dir.children.push({ type: 'symlink', name, path, stat: lean(st), target });
      out.symlinks++;
    } else {
      out.skipped.push({ path, kind: specialKind(st.mode) });
    }
  }
}

/** Numbered by first appearance in canonical order so that the same tree gives the same numbers. */
function assignLinkGroups(files: ScannedFile[]): void {
  const byInode = new Map<string, ScannedFile[]>();
  for (const f of files) {
    if (f.stat.nlink < 2) continue;
    const key = inodeKey(f.stat);
    const group = byInode.get(key);
    if (group) group.push(f);
    else byInode.set(key, [f]);
  }
  let next = 1;
  for (const f of files) {
    const group = byInode.get(inodeKey(f.stat));
    if (!group || group.length < 2) continue;
    if (group[0] === f) {
      for (const member of group) member.link = next;
      next++;
    }
  }
}
