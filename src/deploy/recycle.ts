import type { ChunkIndex, ReleaseStore } from '../store/index.js';
import { beyondKeep } from './gc.js';
import { progressPath } from './stage-progress.js';
import { lstatSyncOrNull } from './stage-fs.js';

/**
 * Gives staging of `version` the tree of the release that garbage collection would delete once
 * `version` is live (the newest such one: the closest in content), renamed to staging/<version>.
 * Releases share the inodes of unchanged files, so most of its paths already hold the inode the
 * new release links: an update then costs one lstat per file and what changed, where a fresh
 * staging area costs a link per file and the later GC an unlink per file. Nothing in the old tree
 * is trusted as it is: the materializer checks every path against its donor's inode, rewrites
 * files the tree shares with nothing, and removes what the release does not have.
 * Never a protected (live, pinned) release, never over a staging area already begun.
 * Returns the recycled version, or null.
 */
export async function recycleRelease(o: {
  releases: ReleaseStore;
  /** The index of the process that serves chunks from the trees, if this one does. */
  chunkIndex?: ChunkIndex;
  version: number;
  keep: number;
  protect: Iterable<number>;
}): Promise<number | null> {
  const { releases, version } = o;
  if (lstatSyncOrNull(releases.stagingPath(version)) !== null || lstatSyncOrNull(progressPath(releases, version)) !== null) return null;
  const have = await releases.materialized();
  if (have.includes(version)) return null;
  const after = [...have, version].sort((a, b) => a - b);
  const old = beyondKeep(after, o.keep, [...o.protect, version]).pop();
  if (old === undefined) return null;
  // Before the tree changes, so that nothing serves chunks from files being replaced.
  o.chunkIndex?.dropRelease(old);
  await releases.moveToStaging(old, version, `recycled for release ${version}`);
  return old;
}
