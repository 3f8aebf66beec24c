import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/index.js';
import { inodeKey, removeTree, type ChunkIndex, type InodeCache, type ObjectStore, type ReleaseStore } from '../store/index.js';
import { demoteRelease } from './demote.js';
import { healRelease } from './heal.js';
import { lstatOrNull } from './stage-fs.js';
import type { DriftEntry, DriftKind, VerifyResult } from './verify-result.js';

export interface RepairContext {
  releases: ReleaseStore;
  objects: ObjectStore;
  chunkIndex: ChunkIndex;
  inodes: InodeCache;
  owner: boolean;
  log: Logger;
}

/** The inodes ("dev:ino") of what drifted, except added paths: never a link donor or chunk source again. */
export function driftedInodes(entries: readonly DriftEntry[]): string[] {
  return entries.filter((e) => e.kind !== 'added' && e.new?.inode).map((e) => e.new!.inode!);
}

/**
 * Heals a release that is not live (see healRelease). If files are lost it is demoted to staging
 * (see demoteRelease). Returns the lost paths.
 */
export async function repairRelease(
  c: RepairContext,
  version: number,
  drift: ReadonlyArray<{ path: string; kind: DriftKind }>,
  tainted: readonly string[],
): Promise<string[]> {
  c.chunkIndex.taint(tainted);
  const root = (await c.releases.head(version)).body.root;
  const { lost } = await healRelease({
    dir: c.releases.releasePath(version), root, objects: c.objects, chunkIndex: c.chunkIndex, inodes: c.inodes, owner: c.owner, drift,
  });
  if (lost.length > 0) {
    await demoteRelease({ releases: c.releases, objects: c.objects, chunkIndex: c.chunkIndex, inodes: c.inodes, version, lost, tainted });
  }
  return lost;
}

/**
 * Once `live` replaced `previous`, whose tree had drifted: `previous` is healed, and so is every
 * other retained release or staging area that holds one of its drifted inodes, so that the drift
 * record is the only place a hand edit survives. Releases that lost files are demoted.
 */
export async function repairReplaced(c: RepairContext, previous: number, live: number, found: VerifyResult): Promise<void> {
  const tainted = driftedInodes(found.entries);
  // Links of each drifted inode beyond those in `previous`: other releases or staging areas hold them.
  const elsewhere = new Map<string, { links: number; kind: DriftKind }>();
  for (const e of found.entries) {
    if (e.kind === 'added' || e.new?.type !== 'file' || !e.new.inode) continue;
    const st = await lstatOrNull(join(found.dir, e.path));
    if (!st || inodeKey(st) !== e.new.inode) continue;
    const known = elsewhere.get(e.new.inode) ?? { links: st.nlink, kind: e.kind };
    known.links--;
    elsewhere.set(e.new.inode, known);
  }
  const lost = await repairRelease(c, previous, found.entries, tainted);
  if (lost.length > 0) c.log.warn(`release ${previous} lost ${lost.join(', ')} (edited by hand, no clean copy on this node); it must be staged again to be used`);
  for (const [inode, v] of elsewhere) if (v.links <= 0) elsewhere.delete(inode);
  if (elsewhere.size === 0) return;
  for (const v of await c.releases.materialized()) {
    if (v === live || v === previous) continue;
    const holders = findHolders(c.releases.releasePath(v), elsewhere);
    if (holders.length === 0) continue;
    const gone = await repairRelease(c, v, holders, tainted);
    if (gone.length > 0) c.log.warn(`release ${v} lost ${gone.join(', ')} (it shared an inode edited by hand); it must be staged again to be used`);
  }
  // A staging area re-creates a missing file when it is resumed; it never needs the drifted inode.
  for (const name of listOrEmpty(c.releases.stagingDir)) {
    if (!/^\d+$/.test(name)) continue;
    const dir = c.releases.stagingPath(Number(name));
    for (const h of findHolders(dir, elsewhere)) await removeTree(join(dir, h.path), { cache: c.inodes });
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Paths under `dir` whose inode is one of `inodes` (an lstat walk). */
function findHolders(dir: string, inodes: ReadonlyMap<string, { kind: DriftKind }>): Array<{ path: string; kind: DriftKind }> {
  const out: Array<{ path: string; kind: DriftKind }> = [];
  const walk = (rel: string): void => {
    for (const name of listOrEmpty(rel ? join(dir, rel) : dir)) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, path), { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) {
        const hit = inodes.get(inodeKey(st));
        if (hit) out.push({ path, kind: hit.kind });
      }
    }
  };
  walk('');
  return out;
}
