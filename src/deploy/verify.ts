import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError, lstatNames, type EntryStat, type ObjectHash } from '../core/index.js';
import { comparePaths, contentHashOfFile, walkTree, type TreeEntry } from '../manifest/index.js';
import { inodeId, inodeKey, type InodeCache, type ObjectStore } from '../store/index.js';
import { onDiskMode } from './finalize-tree.js';
import { lstatAheadOf } from './release-lstat.js';
import { treePackName } from './release-files.js';
import { isRoot, kindOf, lstatSyncOrNull, turnDue, nextTurn } from './stage-fs.js';
import type { DriftKind, EntryState, VerifyResult } from './verify-result.js';

export interface VerifyOptions {
  dir: string;
  version: number;
  root: ObjectHash;
  objects: ObjectStore;
  /** Quick mode trusts it for inodes whose size, mtime and ctime are unchanged; updated as files are hashed. */
  cache: InodeCache;
  deep: boolean;
  /** Compare recorded uid/gid (only meaningful where they were applied, i.e. as root). */
  owner: boolean;
  /** Receives the inode (inodeId) of every file found exactly as the release has it, with its entry (see checkFreshTarget). */
  clean?: Map<number | string, TreeEntry>;
  /**
   * A tree chunkswarm did not make (adoptLive): permission bits are compared with the release's
   * recorded modes, not with the read-only form a release takes on disk.
   */
  recordedModes?: boolean;
  /** Entries from which a helper thread takes half of the lstats (default HELPER_MIN_ENTRIES). */
  helperFrom?: number;
}

/**
 * Compares a materialized tree to its release, never following a symlink. A directory's mtime is
 * not compared: it follows its contents, which are reported themselves.
 */
export async function verifyTree(o: VerifyOptions): Promise<VerifyResult> {
  const out: VerifyResult = {
    version: o.version, dir: o.dir, deep: o.deep, checked: 0, hashed: 0,
    counts: { added: 0, removed: 0, modified: 0, meta: 0, type: 0 },
    entries: [],
  };
  const push = (path: string, kind: DriftKind, old?: EntryState, now?: EntryState) => {
    out.entries.push({ path, kind, ...(old && { old }), ...(now && { new: now }) });
    out.counts[kind]++;
  };
  /** The file's content hash read from disk; `remember`: given to the inode cache. */
  const hashRead = async (path: string, st: EntryStat, remember: boolean): Promise<string> => {
    const h = await contentHashOfFile(join(o.dir, path));
    out.hashed++;
    if (remember) o.cache.remember(st, h);
    return h;
  };
  const modeOf = (e: TreeEntry) => (o.recordedModes ? e.mode : onDiskMode(e));
  const actual = async (path: string, st: EntryStat, hash: boolean): Promise<EntryState> => {
    const s: EntryState = {
      type: kindOf(st), size: st.size, mtime: Math.round(st.mtimeMs), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, inode: inodeKey(st),
    };
    if (st.isSymbolicLink()) s.target = readlinkSync(join(o.dir, path));
    if (hash && st.isFile()) s.hash = await hashRead(path, st, false);
    return s;
  };
  const expected = async (e: TreeEntry): Promise<EntryState> => {
    const s: EntryState = { type: e.type === 'dir' ? 'directory' : e.type, size: 0, mtime: e.mtime, mode: modeOf(e) };
    if (e.uid !== undefined) Object.assign(s, { uid: e.uid, gid: e.gid });
    if (e.type === 'file') Object.assign(s, { hash: e.hash, size: (await o.objects.getFile(e.hash!)).size });
    if (e.type === 'symlink') Object.assign(s, { target: e.target, size: Buffer.byteLength(e.target!) });
    return s;
  };
  const metaDiffers = (e: TreeEntry, st: EntryStat) =>
    (st.mode & 0o7777) !== modeOf(e) ||
    (e.type === 'file' && Math.abs(st.mtimeMs - e.mtime) >= 1) ||
    (o.owner && e.uid !== undefined && (st.uid !== e.uid || st.gid !== e.gid));

  const listRemoved = async (prefix: string, tree: ObjectHash) => {
    await walkTree(tree, (h) => o.objects.getTree(h), async (p, e) => push(`${prefix}/${p}`, 'removed', await expected(e)));
  };
  const listAdded = async (rel: string) => {
    for (const name of list(join(o.dir, rel), o.dir)) {
      const path = `${rel}/${name}`;
      const st = lstatSyncOrNull(`${o.dir}/${path}`);
      if (!st) continue;
      push(path, 'added', undefined, await actual(path, st, true));
      if (st.isDirectory()) await listAdded(path);
    }
  };

  /** `dirSt`: the directory's own lstat; not listed where the inode cache says it holds the tree's names (holdsTree). */
  const compareDir = async (rel: string, treeHash: ObjectHash, dirSt: EntryStat | null): Promise<void> => {
    const tree = await o.objects.getTree(treeHash);
    const names = !o.deep && dirSt !== null && o.cache.holdsTree(dirSt, treeHash) ? null : list(rel ? join(o.dir, rel) : o.dir, o.dir);
    // Entries of the release found on disk: when they are as many as the directory's names, no
    // name is extra, and the names need no set (a hash of every name of 10^5).
    let found = 0;
    const abs = rel ? `${o.dir}/${rel}` : o.dir;
    const job = ahead?.jobs.get(rel);
    const entryNames = job !== undefined ? ahead!.list[job]!.names : tree.entries.map((e) => e.name);
    const taken = job !== undefined ? await ahead!.helper.take(job, dirSt ?? undefined) : lstatNames(abs, entryNames, dirSt ?? undefined);
    const stats = taken ?? entryNames.map((name) => lstatSyncOrNull(`${abs}/${name}`));
    for (let k = 0; k < tree.entries.length; k++) {
      const e = tree.entries[k]!;
      const st = stats[k];
      if (turnDue(++out.checked)) await nextTurn();
      // Built only where needed: nearly every file of a quick check is found clean without it.
      const path = () => (rel ? `${rel}/${e.name}` : e.name);
      if (!st) {
        push(path(), 'removed', await expected(e));
        if (e.type === 'dir') await listRemoved(path(), e.hash!);
        continue;
      }
      found++;
      const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      if (type !== e.type) {
        push(path(), 'type', await expected(e), await actual(path(), st, true));
        if (e.type === 'dir') await listRemoved(path(), e.hash!);
        if (st.isDirectory()) await listAdded(path());
      } else if (e.type === 'dir') {
        if (metaDiffers(e, st)) push(path(), 'meta', await expected(e), await actual(path(), st, false));
        await compareDir(path(), e.hash!, st);
      } else if (e.type === 'symlink') {
        if (readlinkSync(join(o.dir, path())) !== e.target) push(path(), 'modified', await expected(e), await actual(path(), st, false));
      } else {
        // The inode cache answers for nearly every file (not in a deep check): no promise for those.
        const hash = (!o.deep && o.cache.hashOf(st)) || (await hashRead(path(), st, true));
        if (hash !== e.hash) push(path(), 'modified', await expected(e), { ...(await actual(path(), st, false)), hash });
        else if (metaDiffers(e, st)) push(path(), 'meta', await expected(e), { ...(await actual(path(), st, false)), hash });
        else o.clean?.set(inodeId(st), e);
      }
    }
    if (names === null) return;
    if (found === names.length) {
      if (found === tree.entries.length && dirSt !== null) o.cache.rememberTree(dirSt, treeHash);
      return;
    }
    const inRelease = new Set(tree.entries.map((e) => e.name));
    for (const name of names) {
      if (inRelease.has(name)) continue;
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSyncOrNull(`${o.dir}/${path}`);
      if (!st) continue;
      push(path, 'added', undefined, await actual(path, st, true));
      if (st.isDirectory()) await listAdded(path);
    }
  };

  // The release's trees from their pack, if it has one: no object journal is scanned then.
  o.objects.loadPack(treePackName(o.root));
  // Measured when it was staged (measureExpansion): no bound on its paths here.
  const ahead = lstatAheadOf(o.dir, o.root, o.objects, { minEntries: o.helperFrom });
  try {
    // The root as a directory only: a symlink's state says nothing of the names it leads to.
    const rootSt = lstatSyncOrNull(o.dir);
    await compareDir('', o.root, rootSt?.isDirectory() ? rootSt : null);
  } finally {
    await ahead?.helper.close();
  }
  out.entries.sort((a, b) => comparePaths(a.path, b.path));
  await o.cache.save();
  return out;
}

/**
 * Synchronous, like the lstat of each entry: a quick check of 10^5 files is nothing but these calls,
 * each far cheaper than a trip through the thread pool.
 */
function list(dir: string, tree: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES' && !isRoot()) {
      throw new ChunkswarmError(
        'E_IO',
        `listing ${dir}: permission denied for this node's user. A release staged before nodes kept read access to their own ` +
          `directories (one published without it, say 0711) cannot be checked: give it back once with chmod -R u+rX ${tree}`,
        { cause: err },
      );
    }
    throw ChunkswarmError.fromSystem(err, `listing ${dir}`);
  }
}
