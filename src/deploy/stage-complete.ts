import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { syncFilesystem } from '../store/index.js';
import { finalizeTree, sealRoot } from './finalize-tree.js';
import type { FileAction } from './plan.js';
import { badChunks, lstatOrNull, ownerOf, placeSymlink, removeAny } from './stage-fs.js';
import { progressPath, removeProgress } from './stage-progress.js';
import type { Stager } from './stager.js';

const MAX_REPAIR_ROUNDS = 3;

/** The second half of Stager.complete(): verify, repair, finalize, rename. Returns releases/<v>. */
export async function completeStage(s: Stager): Promise<string> {
  const { releases, objects, chunkIndex, release } = s.opts;
  // Symlinks last: nothing is written under the tree once a symlink exists in it.
  for (const l of s.content.symlinks) await placeSymlink(join(s.dir, l.path), l.target);
  await removeStrays(s.dir, '', s.content.entries);
  for (let round = 0; ; round++) {
    const bad = await verifyFiles(s);
    if (bad.length === 0) break;
    if (round === MAX_REPAIR_ROUNDS) {
      throw new ChunkswarmError('E_HASH_MISMATCH', `staged ${bad[0]!.action.path} keeps failing verification; the disk under ${s.dir} may be failing`);
    }
    for (const b of bad) await repair(s, b.action, b.chunks);
    await s.flush(true);
    const missing = s.missing().length;
    if (missing > 0) {
      throw new ChunkswarmError(
        'E_HASH_MISMATCH',
        `${bad.map((b) => b.action.path).join(', ')} did not match release ${s.version} (a local source file was edited); ${missing} pieces must be fetched again`,
      );
    }
  }
  const done = new Set<string>();
  for (const a of s.plan.files) {
    if (a.kind === 'link' || (a.kind === 'alias' && done.has(a.of))) done.add(a.path);
  }
  await finalizeTree(s.dir, release.body.root, objects, { done, owner: ownerOf(s.opts) });
  await syncFilesystem(s.dir);
  const final = releases.releasePath(s.version);
  await rename(s.dir, final).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `moving release ${s.version} into place`);
  });
  await sealRoot(final);
  await removeProgress(progressPath(releases, s.version));
  await rememberHashes(s, final);
  await chunkIndex.ensureRelease(s.version);
  return final;
}

/** Every staged inode (aliases share their leader's) checked chunk by chunk against its object. */
async function verifyFiles(s: Stager): Promise<Array<{ action: FileAction; chunks: number[] }>> {
  const bad: Array<{ action: FileAction; chunks: number[] }> = [];
  for (const a of s.plan.files) {
    if (a.kind === 'alias') continue;
    const chunks = await badChunks(join(s.dir, a.path), a.file);
    if (chunks.length > 0) bad.push({ action: a, chunks });
  }
  return bad;
}

/**
 * A linked file that fails is a donor edited on disk: its inode is tainted and the file is
 * assembled instead. An assembled file that fails gets its bad chunks rewritten. Either way a piece
 * whose bytes are nowhere else on this node goes back to missing().
 */
async function repair(s: Stager, action: FileAction, chunks: number[]): Promise<void> {
  const { plan } = s;
  if (action.kind === 'link') {
    s.tainted.add(action.inode);
    s.opts.chunkIndex.taint([action.inode]);
    const assembled: FileAction = { kind: 'assemble', path: action.path, entry: action.entry, file: action.file };
    plan.files[plan.files.indexOf(action)] = assembled;
    const pieces = new Set<number>();
    let offset = 0;
    for (const c of action.file.chunks) {
      const p = s.indexOf(c.hash);
      if (plan.linkedAt[p]?.path === action.path) plan.linkedAt[p] = null;
      pieces.add(p);
      plan.writes[p]!.push({ path: action.path, offset });
      offset += c.size;
    }
    // Read every piece before the file is replaced: another slot may be the only good copy.
    const bytes = new Map<number, Uint8Array | null>();
    for (const p of pieces) bytes.set(p, s.hasPiece(p) ? await s.localBytes(p) : null);
    await s.recreate(assembled);
    await s.placeAliases();
    for (const [p, b] of bytes) {
      if (!b) s.markMissing(p);
      else {
        await s.store(p, b);
        s.copied++;
      }
    }
    return;
  }
  const whole = chunks.includes(-1) || chunks.length === action.file.chunks.length;
  if (whole) {
    await s.recreate(action);
    await s.placeAliases();
  }
  const pieces = new Set((whole ? action.file.chunks : chunks.map((i) => action.file.chunks[i]!)).map((c) => s.indexOf(c.hash)));
  for (const p of pieces) await s.refill(p);
}

/** Anything in the staging area that the release does not have (left over or planted) goes. */
async function removeStrays(dir: string, rel: string, entries: ReadonlyMap<string, { type: string }>): Promise<void> {
  const names = await readdir(join(dir, rel)).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `listing ${join(dir, rel)}`);
  });
  for (const name of names) {
    const path = rel ? `${rel}/${name}` : name;
    const e = entries.get(path);
    const st = await lstatOrNull(join(dir, path));
    if (!e) await removeAny(join(dir, path), st);
    else if (e.type === 'dir' && st?.isDirectory()) await removeStrays(dir, path, entries);
  }
}

/** Every file was just hashed: the stat cache remembers it, so the first quick verify reads nothing. */
async function rememberHashes(s: Stager, base: string): Promise<void> {
  const { inodes } = s.opts;
  for (const a of s.plan.files) {
    const st = await lstatOrNull(join(base, a.path));
    if (st?.isFile()) inodes.remember(st, a.entry.hash!);
  }
  await inodes.save();
}
