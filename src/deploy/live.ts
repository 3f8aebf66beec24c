import { open, readdir, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import type { ReleaseStore } from '../store/index.js';
import { kindOf, lstatOrNull } from './stage-fs.js';

/**
 * What livePath is: absent, our symlink to a release, our symlink to a release that is gone, or not
 * ours: a real directory (what rsync kept up to date), a symlink elsewhere, or something else.
 */
export type LiveLink =
  | { state: 'absent' }
  | { state: 'release'; version: number; dir: string }
  | { state: 'dangling'; target: string }
  | { state: 'foreign'; what: string; kind: 'directory' | 'other' | 'shared' }
  | { state: 'foreign'; what: string; kind: 'symlink'; target: string };

export async function inspectLive(livePath: string, releases: ReleaseStore): Promise<LiveLink> {
  const st = await lstatOrNull(livePath);
  if (st === null) return { state: 'absent' };
  if (!st.isSymbolicLink()) return { state: 'foreign', what: `a real ${kindOf(st)}`, kind: st.isDirectory() ? 'directory' : 'other' };
  const target = resolve(dirname(livePath), await readlink(livePath));
  const name = basename(target);
  if (dirname(target) !== resolve(releases.releasesDir) || !/^\d+$/.test(name)) {
    const other = await otherNodeRelease(target);
    if (other !== null) return { state: 'foreign', what: other, kind: 'shared' };
    return { state: 'foreign', what: `a symlink to ${target}, outside ${releases.releasesDir}`, kind: 'symlink', target };
  }
  const dir = await lstatOrNull(target);
  if (!dir?.isDirectory()) return { state: 'dangling', target };
  return { state: 'release', version: Number(name), dir: target };
}

/**
 * A symlink target that is a release of some node's data directory (it holds a node.seed), in
 * words, or null. Two nodes whose configs name one livePath would take it from each other at every
 * switch: never taken over, whatever adoptLive says.
 */
async function otherNodeRelease(target: string): Promise<string | null> {
  const dataDir = dirname(dirname(target));
  if (basename(dirname(target)) !== 'releases' || !/^\d+$/.test(basename(target))) return null;
  if ((await lstatOrNull(join(dataDir, 'node.seed'))) === null) return null;
  return `a symlink to release ${basename(target)} of another node's data directory (${dataDir})`;
}

/** What `adoptLive` may take over: a real directory, or a symlink that is no node's release. */
export function adoptable(link: Extract<LiveLink, { state: 'foreign' }>): boolean {
  return link.kind === 'directory' || link.kind === 'symlink';
}

/** The live release, null if there is none yet; refuses a livePath that chunkswarm does not manage. */
export async function currentLive(livePath: string, releases: ReleaseStore): Promise<{ version: number; dir: string } | null> {
  const live = await inspectLive(livePath, releases);
  if (live.state === 'foreign') throw foreignLive(livePath, live, releases);
  return live.state === 'release' ? live : null;
}

export function foreignLive(livePath: string, link: Extract<LiveLink, { state: 'foreign' }>, releases: ReleaseStore): ChunkswarmError {
  const fix = link.kind === 'other'
    ? 'Move it away, then activate again'
    : link.kind === 'shared'
      ? 'Two nodes on this machine whose configs name the same livePath take it from each other: give each its own'
      : `To let the release take its place, set "adoptLive": true in the config (${ADOPT_NOTE[link.kind]}), or move it away yourself`;
  return ChunkswarmError.usage(`livePath ${livePath} is ${link.what}; chunkswarm manages it as a symlink to ${releases.releasesDir}/<version>. ${fix}`);
}

const ADOPT_NOTE = {
  directory: 'it is moved aside, kept whole, and what differs from the release is recorded as drift',
  symlink: 'the symlink is replaced, what it points at is left alone, and what differs from the release is recorded as drift',
};

/** Where an adopted directory at livePath is kept: `<livePath>.pre-chunkswarm`, or `-2`, `-3`… if taken. */
export async function asidePath(livePath: string): Promise<string> {
  let aside = `${livePath}.pre-chunkswarm`;
  for (let n = 2; (await lstatOrNull(aside)) !== null; n++) aside = `${livePath}.pre-chunkswarm-${n}`;
  return aside;
}

/**
 * For `join` and `init`, before anything is written: a livePath that exists already is not this new
 * node's, and is taken over only when asked (`adopt`); a real file never is.
 */
export async function checkNewLivePath(livePath: string, adopt: boolean): Promise<void> {
  const st = await lstatOrNull(livePath);
  if (st === null) return;
  const what = st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symlink' : `a real ${kindOf(st)}`;
  if (!st.isDirectory() && !st.isSymbolicLink()) {
    throw ChunkswarmError.usage(`--live ${livePath} is ${what}; chunkswarm makes livePath a symlink to the live release: give a path that does not exist, a directory or a symlink`);
  }
  const other = st.isSymbolicLink() ? await otherNodeRelease(resolve(dirname(livePath), await readlink(livePath))) : null;
  if (other !== null) throw ChunkswarmError.usage(`--live ${livePath} is ${other}: each node needs a livePath of its own`);
  if (!adopt) {
    throw ChunkswarmError.usage(
      `--live ${livePath} exists (${what}); chunkswarm makes livePath a symlink to the live release. ` +
        `To take it over (say, the tree rsync keeps up to date today), add --adopt: at the first activation ` +
        `${st.isDirectory() ? `it is moved aside to ${livePath}.pre-chunkswarm, kept whole,` : 'the symlink is replaced, what it points at is left alone,'} ` +
        'and what differs from the release is recorded as drift. Or give a path that does not exist',
    );
  }
}

const tempName = (livePath: string) => `.${basename(livePath)}.chunkswarm-${randomBytes(6).toString('hex')}.tmp`;

/** Atomic switch: a new symlink next to livePath, renamed over it, then the directory entry made durable. */
/** E_NOT_FOUND naming the directory that should hold livePath, if it is missing (symlink(2)'s ENOENT would name the target). */
export async function checkLiveParent(livePath: string): Promise<void> {
  const parent = dirname(livePath);
  if (!(await lstatOrNull(parent))?.isDirectory()) {
    throw ChunkswarmError.notFound(`the directory ${parent} that should hold livePath ${livePath} (create it, or change livePath)`);
  }
}

export async function swapLive(livePath: string, targetDir: string): Promise<void> {
  await checkLiveParent(livePath);
  const tmp = join(dirname(livePath), tempName(livePath));
  try {
    await symlink(targetDir, tmp);
    await rename(tmp, livePath);
    const dir = await open(dirname(livePath), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw ChunkswarmError.fromSystem(err, `switching ${livePath} to ${targetDir}`);
  }
}

/** Temp links left by a swap that was interrupted before its rename. */
export async function removeTempLinks(livePath: string): Promise<string[]> {
  const parent = dirname(livePath);
  const prefix = `.${basename(livePath)}.chunkswarm-`;
  const removed: string[] = [];
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const st = await lstatOrNull(join(parent, name));
    if (!st?.isSymbolicLink()) continue;
    await unlink(join(parent, name)).catch(() => undefined);
    removed.push(join(parent, name));
  }
  return removed;
}
