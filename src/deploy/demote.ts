import { bitfieldBytes, setBit } from '../core/index.js';
import { releaseId } from '../manifest/index.js';
import { removeTree, type ChunkIndex, type InodeCache, type ObjectStore, type ReleaseStore } from '../store/index.js';
import { loadRelease } from './release-files.js';
import { progressPath, removeProgress, saveProgress } from './stage-progress.js';

/**
 * A release that lost files (hand edits with no clean copy left on this node) is no longer a
 * release: its tree goes back to staging/<v>, with every piece recorded as present except those of
 * the lost files, so that staging it again (from the swarm, or a --source-data) fetches only those.
 * Never the live release. Crash-safe: once renamed, it is an ordinary staging area whose unrecorded
 * pieces are re-checked when it is opened.
 */
export async function demoteRelease(o: {
  releases: ReleaseStore;
  objects: ObjectStore;
  chunkIndex: ChunkIndex;
  inodes: InodeCache;
  version: number;
  lost: readonly string[];
  /** Drifted inodes: never linked or read by the staging that resumes it. */
  tainted: Iterable<string>;
}): Promise<void> {
  const { releases, version } = o;
  const head = await releases.head(version);
  const to = releases.stagingPath(version);
  o.chunkIndex.dropRelease(version);
  await removeTree(to, { cache: o.inodes });
  await removeProgress(progressPath(releases, version));
  await releases.moveToStaging(version, version, 'it lost files');
  const content = await loadRelease(head.body.root, o.objects, to);
  const lost = new Set(o.lost);
  const missing = new Set<string>();
  for (const f of content.files) if (lost.has(f.path)) for (const c of f.file.chunks) missing.add(c.hash);
  const done = bitfieldBytes(content.pieces.length);
  content.pieces.forEach((p, i) => setBit(done, i, !p.chunks.some((c) => missing.has(c.hash))));
  await saveProgress(progressPath(releases, version), {
    release: releaseId(head.body), pieces: content.pieces.length, done, tainted: [...o.tainted],
  });
}
