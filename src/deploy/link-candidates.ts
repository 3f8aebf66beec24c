import { join } from 'node:path';
import { walkTree } from '../manifest/index.js';
import { inodeKey, type ObjectStore, type ReleaseStore } from '../store/index.js';
import { onDiskMode } from './finalize-tree.js';
import type { LinkCandidate } from './plan.js';
import { lstatOrNull } from './stage-fs.js';

export interface CandidateQuery {
  releases: ReleaseStore;
  objects: ObjectStore;
  /** File object hashes of the release being staged. */
  wanted: ReadonlySet<string>;
  /** Searched first: its files were just verified. */
  liveVersion: number | null;
  /** The version being staged (never a donor of itself). */
  staging: number;
  tainted: ReadonlySet<string>;
  /** Whether recorded uid/gid are applied (root); then a donor must also have them. */
  owner: boolean;
}

/**
 * Files of retained releases that may lend their inode to the new release: same file object, and
 * on disk exactly as their release says (regular file, size, mtime, mode, owner), not drifted.
 * Content is not re-read here; staging hashes every file before it completes.
 */
export async function collectCandidates(q: CandidateQuery): Promise<Map<string, LinkCandidate[]>> {
  const out = new Map<string, LinkCandidate[]>();
  const versions = (await q.releases.materialized()).filter((v) => v !== q.staging).reverse();
  const ordered = q.liveVersion !== null && versions.includes(q.liveVersion)
    ? [q.liveVersion, ...versions.filter((v) => v !== q.liveVersion)]
    : versions;
  for (const version of ordered) {
    let root;
    try {
      root = (await q.releases.head(version)).body.root;
    } catch {
      continue;
    }
    const base = q.releases.releasePath(version);
    await walkTree(root, (h) => q.objects.getTree(h), async (path, entry) => {
      if (entry.type !== 'file' || !q.wanted.has(entry.hash!)) return;
      const abs = join(base, path);
      const st = await lstatOrNull(abs);
      if (st === null || !st.isFile()) return;
      const inode = inodeKey(st);
      if (q.tainted.has(inode)) return;
      const file = await q.objects.getFile(entry.hash!);
      if (st.size !== file.size || Math.abs(st.mtimeMs - entry.mtime) >= 1) return;
      if ((st.mode & 0o7777) !== onDiskMode(entry.mode)) return;
      if (q.owner && entry.uid !== undefined && (st.uid !== entry.uid || st.gid !== entry.gid)) return;
      const list = out.get(entry.hash!);
      const c: LinkCandidate = { path: abs, entry, inode };
      if (list) list.push(c);
      else out.set(entry.hash!, [c]);
    });
  }
  return out;
}
