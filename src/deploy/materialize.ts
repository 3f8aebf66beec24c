import { linkSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { isOneChunk } from '../manifest/index.js';
import { inodeKey, syncFilesystem, type InodeCache, type ObjectStore } from '../store/index.js';
import { findDonors, type DonorSearch, type DonorsFound } from './donors.js';
import { fileMeta, finalizeTree, sealRoot } from './finalize-tree.js';
import { planFiles, type FileAction, type LinkAction } from './plan.js';
import type { ReleaseContent, ReleaseEntry } from './release-files.js';
import { createSized, ensureDir, grantOwner, lstatSyncOrNull, placeSymlink, removeAny, turnDue, nextTurn, type FileMeta } from './stage-fs.js';

/**
 * The apply half of "turn a release into a directory" (the plan half is plan.ts): each step brings
 * a directory in line with a plan, keeping what a previous, interrupted run left there when it can
 * be trusted, so that every step may be run again after a crash. Used by staging and by publish.
 */

export type WriteAction = Extract<FileAction, { kind: 'write' }>;
export type AliasAction = Extract<FileAction, { kind: 'alias' }>;

/**
 * The directory of the tree and all its subdirectories. Anything else in their place is refused,
 * or removed with `recycled` (the tree was a release's: see recycleRelease). Returns the
 * directories it created (release paths, '' for the root): nothing is in them yet.
 */
export function makeDirs(dir: string, dirs: readonly ReleaseEntry[], recycled = false): Set<string> {
  const created = new Set<string>();
  if (ensureDir(dir)) created.add('');
  for (const d of dirs) if (ensureDir(join(dir, d.path), recycled)) created.add(d.path);
  return created;
}

/** Rounds of planning when donors change while they are being linked (a hand edit racing us). */
const MAX_PLAN_ROUNDS = 3;

/**
 * Plans a tree's files (findDonors, planFiles) and links every donor into `dir`, whose
 * directories exist. A donor that changed since it was found clean is tainted and the files are
 * planned again without it. `search.tainted` grows with what was found.
 */
export async function linkDonors(
  dir: string,
  search: Omit<DonorSearch, 'tainted'> & { tainted: Set<string> },
  mayExist: (path: string) => boolean,
): Promise<{ actions: FileAction[] } & Pick<DonorsFound, 'previous' | 'sharedKept'>> {
  for (let round = 1; ; round++) {
    const found = await findDonors(search);
    const actions = planFiles(search.files, found.donors);
    const links = actions.filter((a): a is LinkAction => a.kind === 'link');
    const changed = new Set(await placeLinks(dir, links, search.inodes, round === 1 ? mayExist : () => true));
    await search.inodes.save();
    if (changed.size === 0) return { actions, previous: found.previous, sharedKept: found.sharedKept };
    if (round === MAX_PLAN_ROUNDS) {
      throw new ChunkswarmError('E_BUSY', `files being linked into ${dir} keep changing (${[...changed].slice(0, 3).join(', ')}); stopped`);
    }
    for (const a of links) if (changed.has(a.path)) search.tainted.add(a.inode);
  }
}

/**
 * Hard-links each donor into the tree and checks, right after, that the inode is still in the
 * state it was found clean in (LinkAction.unchanged): an edit since then moved its size or mtime. The
 * inode cache follows the ctime that link(2) moved. Returns the paths not linked because their
 * donor changed: the caller plans them again. A path for which `mayExist` says no (its directory
 * was just created, say) is not looked at first: one link and one lstat per file.
 */
export async function placeLinks(
  dir: string,
  links: readonly LinkAction[],
  inodes: InodeCache,
  mayExist: (path: string) => boolean,
): Promise<string[]> {
  const changed: string[] = [];
  let n = 0;
  for (const a of links) {
    if (turnDue(++n)) await nextTurn();
    // Its own donor (DonorSearch.inPlace): found clean at this very path moments ago, or the live
    // release's inode, which the live tree's check before the switch vouches for (sharedInPlace).
    if (a.inPlace) continue;
    // Release paths are validated names: plain concatenation, no normalisation needed.
    const abs = `${dir}/${a.path}`;
    if (mayExist(a.path)) {
      const st = lstatSyncOrNull(abs);
      if (st && a.unchanged(st)) continue;
      if (st) await removeAny(abs, st);
    }
    try {
      linkSync(a.from, abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        changed.push(a.path);
        continue;
      }
      throw ChunkswarmError.fromSystem(err, `linking ${a.path}`);
    }
    const after = lstatSync(abs);
    if (!a.unchanged(after)) {
      unlinkSync(abs);
      changed.push(a.path);
      continue;
    }
    inodes.remember(after, a.entry.hash!);
  }
  return changed;
}

/**
 * Paths placeWrites made anew, or left to be made by their write (`atWrite`, with the metadata that
 * write gives them); `holes`, those sized at once (all holes until written).
 */
export interface PlacedWrites {
  created: Set<string>;
  holes: Set<string>;
  atWrite: Map<string, FileMeta>;
}

export interface PlaceOptions {
  /** Whether a path's directory may hold something already (default: it may). */
  mayExist?: (path: string) => boolean;
  /** Paths created anew whatever is there. */
  anew?: ReadonlySet<string>;
  /**
   * Files of one chunk for certain (CHUNK_MIN bytes at most) that no alias shares are left to their
   * one write, which creates them whole with their metadata (createWhole); `owner` as finalizeTree.
   */
  atWrite?: { owner: boolean };
}

/**
 * A new inode for each file to write: of its size (holes), or empty where the file is one chunk
 * for certain, whose one write gives it its size (sizing a new file, ftruncate, cost ~10 µs of a
 * small file's ~55 on ext4, 0.2 CPU-s per 20,000 files), or none yet (`atWrite`). A file left by
 * a previous run is kept if it is a regular file of that size that nothing outside this tree
 * shares (writing into an inode a release shares would change that release). A path for which
 * `mayExist` says no (its directory was just created) is created without a look first: O_EXCL
 * refuses it if something is there after all. A path `anew` names is created anew whatever is
 * there: a file with runs of zeros, whose zeros stay holes only in a new inode (see
 * PieceIntake.store).
 */
export async function placeWrites(dir: string, writes: readonly WriteAction[], aliases: readonly AliasAction[], opts: PlaceOptions = {}): Promise<PlacedWrites> {
  const { mayExist = () => true, anew = new Set<string>() } = opts;
  const aliasesOf = new Map<string, string[]>();
  for (const a of aliases) aliasesOf.set(a.of, [...(aliasesOf.get(a.of) ?? []), a.path]);
  const placed: PlacedWrites = { created: new Set(), holes: new Set(), atWrite: new Map() };
  let n = 0;
  for (const a of writes) {
    if (turnDue(++n)) await nextTurn();
    const abs = `${dir}/${a.path}`;
    const st = mayExist(a.path) ? lstatSyncOrNull(abs) : null;
    if (st?.isFile() && st.size === a.size && !anew.has(a.path)) {
      const own = 1 + (aliasesOf.get(a.path) ?? []).filter((p) => {
        const x = lstatSyncOrNull(join(dir, p));
        return x !== null && x.ino === st.ino && x.dev === st.dev;
      }).length;
      if (st.nlink === own) {
        // An old release's file (a recycled tree's, changed at the same size): read-only on disk.
        try {
          grantOwner(abs, st, 0o200);
        } catch (err) {
          throw ChunkswarmError.fromSystem(err, `making ${abs} writable`);
        }
        continue;
      }
    }
    await removeAny(abs, st);
    placed.created.add(a.path);
    if (opts.atWrite && a.size > 0 && isOneChunk(a.size) && !aliasesOf.has(a.path)) {
      placed.atWrite.set(a.path, fileMeta(a.entry, opts.atWrite.owner));
      continue;
    }
    const sized = !isOneChunk(a.size);
    createSized(abs, sized ? a.size : 0);
    if (sized) placed.holes.add(a.path);
  }
  return placed;
}

/** Members of an in-tree hard-link group after the first share its inode. */
export async function placeAliases(dir: string, aliases: readonly AliasAction[]): Promise<void> {
  for (const a of aliases) {
    const abs = join(dir, a.path);
    const st = lstatSyncOrNull(abs);
    const leader = lstatSyncOrNull(join(dir, a.of));
    if (st && leader && inodeKey(st) === inodeKey(leader)) continue;
    await removeAny(abs, st);
    try {
      linkSync(join(dir, a.of), abs);
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `linking ${a.path}`);
    }
  }
}

/**
 * Completes a tree whose files are all in place: symlinks (last: nothing is written under the
 * tree once a symlink exists in it), then finalizeTree: the release's metadata on the written
 * files (a linked file and its aliases are a finalized release's inode, whose metadata is right;
 * `metaGiven` names the written files whose write gave them theirs, see createWhole) and on every
 * directory, and whatever the release does not have removed, left over or planted.
 */
export async function finishTree(
  dir: string,
  content: Pick<ReleaseContent, 'root' | 'symlinks'>,
  actions: readonly FileAction[],
  objects: ObjectStore,
  owner: boolean,
  inodes: InodeCache,
  metaGiven: ReadonlySet<string> = new Set(),
): Promise<void> {
  for (const l of content.symlinks) await placeSymlink(join(dir, l.path), l.entry.target!);
  // An alias is a hard link to its group's leader, whose metadata it shares (planFiles).
  const written = new Set<string>();
  for (const a of actions) if (a.kind === 'write' && !metaGiven.has(a.path)) written.add(a.path);
  await finalizeTree(dir, content.root, objects, { written, owner, inodes });
}

/**
 * Makes a complete tree a release: one syncfs makes every file durable, the tree is renamed to
 * its final name, and its root made read-only (after the rename: see sealRoot).
 */
export async function moveIntoPlace(from: string, to: string, version: number): Promise<void> {
  await syncFilesystem(from);
  try {
    renameSync(from, to);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `moving release ${version} into place`);
  }
  await sealRoot(to);
}
