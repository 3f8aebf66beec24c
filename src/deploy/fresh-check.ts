import { inodeKey, type InodeCache, type ObjectStore } from '../store/index.js';
import type { TreeEntry } from '../manifest/index.js';
import { sameInode } from './donors.js';
import { checkFile } from './file-check.js';
import type { FileAction } from './plan.js';
import type { DriftEntry, VerifyResult } from './verify-result.js';

/** How long after its staging a release counts as just staged. */
export const FRESH_MS = 60_000;

/**
 * The check before the switch of a release this process has just staged, at the cost of what is
 * not shared with the live tree: every file of it was linked (an inode of the live tree, mostly)
 * or written, and found clean moments ago. An inode of the live tree is as clean as the
 * verification of the live tree just said: where that found drift, the release's paths sharing the
 * drifted inode are reported; every file whose inode it did not see clean is checked again
 * against its entry. Same result shape as verifyTree, for the same repair.
 */
export async function checkFreshTarget(o: {
  dir: string;
  version: number;
  actions: readonly FileAction[];
  /** Inodes the verification of the live tree found exactly as the live release has them, just now, with the entry they matched. */
  liveClean: ReadonlyMap<number | string, TreeEntry>;
  /** What verification of the live tree found, just now. */
  liveDrift: VerifyResult | null;
  objects: ObjectStore;
  inodes: InodeCache;
  owner: boolean;
}): Promise<VerifyResult> {
  const out: VerifyResult = {
    version: o.version, dir: o.dir, deep: false, checked: 0, hashed: 0, counts: { added: 0, removed: 0, modified: 0, meta: 0, type: 0 }, entries: [],
  };
  const push = (e: DriftEntry) => {
    out.entries.push(e);
    out.counts[e.kind]++;
  };
  const drifted = new Map((o.liveDrift?.entries ?? []).filter((e) => e.kind !== 'added' && e.new?.inode).map((e) => [e.new!.inode!, e]));
  for (const a of o.actions) {
    if (a.kind === 'alias') continue;
    out.checked++;
    const d = a.kind === 'link' && drifted.size > 0 ? drifted.get(a.inode) : undefined;
    if (d) {
      push({ path: a.path, kind: d.kind, ...(d.new && { new: d.new }) });
      continue;
    }
    if (a.kind === 'link' && sameInode(o.liveClean.get(a.inodeId), a.entry)) continue;
    const size = (await o.objects.getFile(a.entry.hash!)).size;
    const { st, drift } = await checkFile(`${o.dir}/${a.path}`, a.entry, size, o.inodes, o.owner);
    if (drift === null) continue;
    push({
      path: a.path,
      kind: drift,
      ...(st && { new: { type: st.isFile() ? 'file' : 'other', size: st.size, mtime: Math.round(st.mtimeMs), mode: st.mode & 0o7777, inode: inodeKey(st) } }),
    });
  }
  return out;
}
