import { constants } from 'node:fs';
import { link, mkdir, open } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { inodeKey } from '../store/index.js';
import type { FileAction } from './plan.js';
import { ensureDir, lstatOrNull, readVerified, removeAny } from './stage-fs.js';
import { getBit } from './stage-progress.js';
import type { Stager } from './stager.js';

/**
 * Brings staging/<v> in line with the plan, reusing what a previous run left when it can be
 * trusted: directories, hard links of clean files, preallocated files, then every piece that a
 * clean local file holds. `recorded` is the progress file's bitfield (pieces flushed to disk).
 */
export async function prepareStage(s: Stager, recorded: Uint8Array | null): Promise<void> {
  await mkdir(s.opts.releases.stagingDir, { recursive: true }).catch((err) => {
    throw ChunkswarmError.fromSystem(err, 'creating the staging directory');
  });
  await ensureDir(s.dir);
  for (const d of s.content.dirs) await ensureDir(join(s.dir, d));
  s.pieces.forEach((_p, i) => {
    if (s.plan.writes[i]!.length === 0 || (recorded && getBit(recorded, i))) s.markDone(i);
  });
  const aliases = new Map<string, string[]>();
  for (const a of s.plan.files) if (a.kind === 'alias') aliases.set(a.of, [...(aliases.get(a.of) ?? []), a.path]);
  const fresh: FileAction[] = [];
  for (const a of s.plan.files) {
    const abs = join(s.dir, a.path);
    const st = await lstatOrNull(abs);
    if (a.kind === 'link') {
      if (st && inodeKey(st) === a.inode) continue;
      await removeAny(abs, st);
      await link(a.from, abs).catch((err) => {
        throw ChunkswarmError.fromSystem(err, `linking ${a.path}`);
      });
    } else if (a.kind === 'assemble') {
      // The inode must be ours alone: writing into one shared with a release would damage that release.
      const ownLinks = 1 + (await sameInodeCount(s.dir, aliases.get(a.path) ?? [], st));
      if (st && st.isFile() && st.size === a.file.size && st.nlink === ownLinks) continue;
      await s.recreate(a);
      fresh.push(a);
    }
  }
  await s.placeAliases();
  // A recreated file lacks pieces recorded as done: they are copied from another slot or fetched again.
  const stale = new Set(fresh.flatMap((a) => a.file.chunks.map((c) => s.indexOf(c.hash))));
  for (const i of stale) if (s.hasPiece(i)) await s.refill(i);
  await salvage(s, new Set(fresh.map((a) => a.path)));
  for (const i of [...s.plan.local, ...s.plan.fetch]) {
    if (s.hasPiece(i)) continue;
    const bytes = await s.localBytes(i);
    if (!bytes) continue;
    await s.store(i, bytes);
    s.copied++;
  }
  await s.flush(true);
}

/**
 * Pieces written before a kill but not yet recorded are still in the files kept from that run:
 * each is hashed where it was written and, if whole, taken instead of being fetched again. A slot
 * that was never written is a hole; its first bytes are zeros and it is skipped without hashing.
 */
async function salvage(s: Stager, recreated: ReadonlySet<string>): Promise<void> {
  for (const i of s.plan.fetch) {
    if (s.hasPiece(i)) continue;
    const piece = s.pieces[i]!;
    for (const slot of s.plan.writes[i]!) {
      const path = join(s.dir, slot.path);
      if (recreated.has(slot.path) || (await startsWithHole(path, slot.offset))) continue;
      const bytes = await readVerified(path, slot.offset, piece.size, piece.hash);
      if (!bytes) continue;
      await s.store(i, bytes);
      s.copied++;
      break;
    }
  }
}

const PROBE_BYTES = 4096;

async function startsWithHole(path: string, offset: number): Promise<boolean> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!fh) return true;
  try {
    const buf = Buffer.alloc(PROBE_BYTES);
    const { bytesRead } = await fh.read(buf, 0, PROBE_BYTES, offset);
    return buf.subarray(0, bytesRead).every((b) => b === 0);
  } finally {
    await fh.close();
  }
}

async function sameInodeCount(dir: string, paths: string[], of: Stats | null): Promise<number> {
  if (!of) return 0;
  let n = 0;
  for (const p of paths) {
    const st = await lstatOrNull(join(dir, p));
    if (st && st.ino === of.ino && st.dev === of.dev) n++;
  }
  return n;
}
