import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { encodeObject, groupPieces, hashFile, objectHash, type ChunkRef } from '../../src/manifest/index.js';
import { makeImage } from '../bandwidth/image.js';

export interface ImagePieces {
  v1Bytes: number;
  /**
   * Piece sizes of release 1 and release 2 as a real node lays them out (groupPieces): runs of
   * their unique chunks, by path then offset.
   */
  v1: number[];
  v2: number[];
  /** Release 1's unique chunks, for other piece sizes (--piece-kib). */
  v1Chunks: ChunkRef[];
  /** Per piece of release 2: 1 if release 1 had every chunk of it (a frontend holds it already). */
  v2HeldFromV1: Uint8Array;
  /**
   * Bytes of the tree and file objects of release 1 a node fetches before its first piece: the
   * file objects encoded for real, each tree entry counted at TREE_ENTRY_BYTES.
   */
  v1ObjectBytes: number;
  /**
   * Bytes of the objects of release 2 that a node holding release 1 lacks: the file objects that
   * changed, and the tree of every directory on a changed path (a node fetches only those; the
   * unchanged subtrees it has by hash).
   */
  v2NewObjectBytes: number;
}

/** A tree entry: name, type, mode, mtime and a 32-byte hash, encoded. */
const TREE_ENTRY_BYTES = 64;

export interface TreeScan {
  chunks: ChunkRef[];
  objectBytes: number;
  /** Relative path of each file -> its object's hash (what a node asks for) and encoded size. */
  fileObjects: Map<string, { digest: string; bytes: number }>;
  /** Relative path of each directory ('' is the root) -> its entry count. */
  dirEntries: Map<string, number>;
}

/** A tree's unique chunks, in path order, and its objects as a node would fetch them. */
async function scanTree(root: string): Promise<TreeScan> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const dirEntries = new Map<string, number>([['', 0]]);
  for (const e of entries) {
    const parent = relative(root, e.parentPath);
    dirEntries.set(parent, (dirEntries.get(parent) ?? 0) + 1);
    const rel = relative(root, join(e.parentPath, e.name));
    if (e.isDirectory() && !dirEntries.has(rel)) dirEntries.set(rel, 0);
  }
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const seen = new Set<string>();
  const out: ChunkRef[] = [];
  const fileObjects = new Map<string, { digest: string; bytes: number }>();
  let objectBytes = entries.length * TREE_ENTRY_BYTES;
  for (const f of files) {
    const file = await hashFile(f);
    const encoded = encodeObject(file);
    objectBytes += encoded.length;
    fileObjects.set(relative(root, f), { digest: objectHash(encoded), bytes: encoded.length });
    for (const c of file.chunks) {
      if (seen.has(c.hash)) continue;
      seen.add(c.hash);
      out.push(c);
    }
  }
  return { chunks: out, objectBytes, fileObjects, dirEntries };
}

/** The objects of `now` that a node holding `before` lacks (ImagePieces.v2NewObjectBytes). */
export function newObjectBytes(before: TreeScan, now: TreeScan): number {
  let bytes = 0;
  const changedDirs = new Set<string>();
  // Paths are relative: dirname() climbs to '.', the root ('' in dirEntries).
  const touch = (path: string) => {
    let d = path;
    do {
      d = dirname(d);
      changedDirs.add(d === '.' ? '' : d);
    } while (d !== '.');
  };
  for (const [path, o] of now.fileObjects) {
    if (before.fileObjects.get(path)?.digest === o.digest) continue;
    bytes += o.bytes;
    touch(path);
  }
  for (const path of before.fileObjects.keys()) if (!now.fileObjects.has(path)) touch(path);
  for (const d of changedDirs) bytes += (now.dirEntries.get(d) ?? 0) * TREE_ENTRY_BYTES;
  return bytes;
}

/**
 * The benchmark's own image (bench/bandwidth/image.ts: same generator, sizes and 1% update), cut by
 * the real FastCDC chunker: the simulator moves the pieces a real rollout of it would move.
 */
export async function imagePieces(spec: { bytes: number; files: number }): Promise<ImagePieces> {
  const work = await mkdtemp(join(tmpdir(), 'cs-sim-image-'));
  try {
    const image = await makeImage(work, spec);
    const v1 = await scanTree(image.v1);
    const v2Scan = await scanTree(image.v2);
    const v2 = groupPieces(v2Scan.chunks);
    const old = new Set(v1.chunks.map((c) => c.hash));
    return {
      v1Bytes: image.v1Bytes,
      v1: groupPieces(v1.chunks).map((p) => p.size),
      v2: v2.map((p) => p.size),
      v1Chunks: v1.chunks,
      v2HeldFromV1: Uint8Array.from(v2, (p) => (p.chunks.every((c) => old.has(c.hash)) ? 1 : 0)),
      v1ObjectBytes: v1.objectBytes,
      v2NewObjectBytes: newObjectBytes(v1, v2Scan),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
