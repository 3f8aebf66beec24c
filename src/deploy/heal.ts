import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, writeSync, type Stats } from 'node:fs';
import { chmod, link, lstat, mkdir, rename, symlink, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { comparePaths, walkTree, type FileObject, type TreeEntry } from '../manifest/index.js';
import { syncFilesystem, type ChunkIndex, type InodeCache, type ObjectStore } from '../store/index.js';
import { applyMeta, applySymlinkMeta } from './finalize-tree.js';
import { lstatOrNull, readVerified, removeAny } from './stage-fs.js';
import type { DriftKind } from './verify-result.js';

export interface HealOptions {
  /** A materialized release that is not live: it is changed in place. */
  dir: string;
  root: ObjectHash;
  objects: ObjectStore;
  /** Where clean bytes come from; inodes known to have drifted must already be tainted in it. */
  chunkIndex: ChunkIndex;
  inodes: InodeCache;
  /** Apply recorded uid/gid. */
  owner: boolean;
  /** What is wrong under `dir`: verifyTree's entries, or paths found holding a drifted inode. */
  drift: ReadonlyArray<{ path: string; kind: DriftKind }>;
}

export interface HealResult {
  /** Paths put back exactly as the release has them. */
  fixed: string[];
  /** Files whose content is nowhere clean on this node: removed, so the release is no longer whole. */
  lost: string[];
}

/**
 * Puts a release tree back to its signed content where hand edits reached it (through an inode it
 * shares with the live tree, or directly): strays go, and every drifted file gets a new inode of
 * its own, assembled from clean local chunks and verified chunk by chunk, so the edited inode is no
 * longer part of this release. A file whose bytes exist nowhere clean is removed and reported lost.
 * Never used on the live release: the live tree is never written in place.
 */
export async function healRelease(o: HealOptions): Promise<HealResult> {
  const out: HealResult = { fixed: [], lost: [] };
  const dirs = new WritableDirs();
  const covered: string[] = [];
  const isCovered = (p: string) => covered.some((c) => p === c || p.startsWith(`${c}/`));
  const dirMeta: Array<{ abs: string; entry: TreeEntry }> = [];
  const groups = new LinkGroups(o.root, o.objects);
  try {
    for (const d of [...o.drift].sort((a, b) => comparePaths(a.path, b.path))) {
      if (isCovered(d.path)) continue;
      const abs = join(o.dir, d.path);
      const entry = await entryAt(o.objects, o.root, d.path);
      if (entry === null) {
        await dirs.open(dirname(abs));
        await removeAny(abs);
        covered.push(d.path);
        out.fixed.push(d.path);
      } else if (entry.type === 'dir' && d.kind === 'meta') {
        dirMeta.push({ abs, entry });
        out.fixed.push(d.path);
      } else {
        const members = entry.type === 'file' && entry.link !== undefined ? await groups.members(entry.link) : [d.path];
        await dirs.open(dirname(abs));
        const placed = await place(o, dirs, abs, d.path, entry, d.kind === 'meta' ? abs : null, members, out);
        covered.push(...members);
        if (placed) out.fixed.push(...members);
      }
    }
  } finally {
    await dirs.restore();
  }
  for (const { abs, entry } of dirMeta) {
    try {
      applyMeta(abs, entry, o.owner);
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `setting metadata of ${abs}`);
    }
  }
  await syncFilesystem(o.dir);
  await o.inodes.save();
  return out;
}

/**
 * Replaces whatever is at `abs` with the release's entry. `self`: the drifted file's content is
 * known good (only its metadata drifted) and may be copied. Returns false if the entry, or a file
 * under it, is lost.
 */
async function place(
  o: HealOptions,
  dirs: WritableDirs,
  abs: string,
  path: string,
  entry: TreeEntry,
  self: string | null,
  members: readonly string[],
  out: HealResult,
): Promise<boolean> {
  if (entry.type === 'file') return placeFile(o, dirs, abs, entry, self, members, out);
  await removeAny(abs);
  if (entry.type === 'symlink') {
    await symlink(entry.target!, abs).catch((err) => {
      throw ChunkswarmError.fromSystem(err, `creating symlink ${abs}`);
    });
    applySymlinkMeta(abs, entry, o.owner);
    return true;
  }
  await mkdir(abs, { mode: 0o700 }).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `creating directory ${abs}`);
  });
  let whole = true;
  for (const child of (await o.objects.getTree(entry.hash!)).entries) {
    // A whole new subtree: in-tree hard links inside it are rebuilt by the next staging, not here.
    const childPath = `${path}/${child.name}`;
    if (!(await place(o, dirs, join(abs, child.name), childPath, child, null, [childPath], out))) whole = false;
  }
  applyMeta(abs, entry, o.owner);
  return whole;
}

async function placeFile(
  o: HealOptions,
  dirs: WritableDirs,
  abs: string,
  entry: TreeEntry,
  self: string | null,
  members: readonly string[],
  out: HealResult,
): Promise<boolean> {
  const file = await o.objects.getFile(entry.hash!);
  const tmp = join(dirname(abs), `.chunkswarm-heal-${randomBytes(6).toString('hex')}`);
  if (!(await assemble(tmp, file, self, o.chunkIndex))) {
    for (const m of members) {
      const mAbs = join(o.dir, m);
      await dirs.open(dirname(mAbs));
      await removeAny(mAbs);
      out.lost.push(m);
    }
    return false;
  }
  try {
    applyMeta(tmp, entry, o.owner);
    // The other paths of its in-tree hard-link group share the new inode, as the release says.
    for (const m of members) {
      const mAbs = join(o.dir, m);
      if (mAbs === abs) continue;
      await dirs.open(dirname(mAbs));
      const mTmp = join(dirname(mAbs), `.chunkswarm-heal-${randomBytes(6).toString('hex')}`);
      await link(tmp, mTmp);
      await rename(mTmp, mAbs);
    }
    await rename(tmp, abs);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw ChunkswarmError.fromSystem(err, `putting back ${abs}`);
  }
  o.inodes.remember(await lstat(abs), entry.hash!);
  return true;
}

/**
 * Writes a new file chunk by chunk, each from a clean source and verified: `self` first (a file
 * whose content is right), then any clean file of the retained releases. False if a chunk is
 * nowhere (the partial file is removed).
 */
async function assemble(tmp: string, file: FileObject, self: string | null, chunkIndex: ChunkIndex): Promise<boolean> {
  let fd: number;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `creating ${tmp}`);
  }
  let complete = true;
  try {
    let offset = 0;
    for (const c of file.chunks) {
      const bytes = (self ? readVerified(self, offset, c.size, c.hash) : null) ?? (await chunkIndex.readChunk(c.hash));
      if (!bytes) {
        complete = false;
        break;
      }
      writeSync(fd, bytes, 0, bytes.length, offset);
      offset += c.size;
    }
  } catch (err) {
    complete = false;
    throw ChunkswarmError.fromSystem(err, `writing ${tmp}`);
  } finally {
    closeSync(fd);
    if (!complete) await unlink(tmp).catch(() => undefined);
  }
  return complete;
}

/** The entry at `path` in the tree `root`, or null if the release has no such path. */
async function entryAt(objects: ObjectStore, root: ObjectHash, path: string): Promise<TreeEntry | null> {
  let tree = await objects.getTree(root);
  const names = path.split('/');
  for (let i = 0; i < names.length; i++) {
    const e = tree.entries.find((x) => x.name === names[i]);
    if (!e) return null;
    if (i === names.length - 1) return e;
    if (e.type !== 'dir') return null;
    tree = await objects.getTree(e.hash!);
  }
  return null;
}

/** Paths of each in-tree hard-link group of a release, found by one walk of its tree objects when first needed. */
class LinkGroups {
  private groups: Map<number, string[]> | null = null;

  constructor(
    private readonly root: ObjectHash,
    private readonly objects: ObjectStore,
  ) {}

  async members(id: number): Promise<string[]> {
    if (!this.groups) {
      const groups = new Map<number, string[]>();
      await walkTree(this.root, (h) => this.objects.getTree(h), (path, e) => {
        if (e.type === 'file' && e.link !== undefined) groups.set(e.link, [...(groups.get(e.link) ?? []), path]);
      });
      this.groups = groups;
    }
    return this.groups.get(id) ?? [];
  }
}

/** Directories of a read-only release opened for writing, and put back as they were (mode and mtime) at the end. */
class WritableDirs {
  private readonly saved = new Map<string, Stats>();

  async open(dir: string): Promise<void> {
    if (this.saved.has(dir)) return;
    const st = await lstatOrNull(dir);
    if (!st?.isDirectory()) throw ChunkswarmError.unsafePath(dir, 'expected a directory of a release');
    this.saved.set(dir, st);
    if ((st.mode & 0o700) !== 0o700) await chmod(dir, (st.mode & 0o7777) | 0o700);
  }

  async restore(): Promise<void> {
    for (const [dir, st] of this.saved) {
      if (!(await lstatOrNull(dir))?.isDirectory()) continue;
      await chmod(dir, st.mode & 0o7777);
      await utimes(dir, st.atime, st.mtime);
    }
  }
}
