import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeObject, groupPieces, hashFile, type ChunkRef } from '../../src/manifest/index.js';
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
}

/** A tree entry: name, type, mode, mtime and a 32-byte hash, encoded. */
const TREE_ENTRY_BYTES = 64;

async function uniqueChunks(root: string): Promise<{ chunks: ChunkRef[]; objectBytes: number }> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const seen = new Set<string>();
  const out: ChunkRef[] = [];
  let objectBytes = entries.length * TREE_ENTRY_BYTES;
  for (const f of files) {
    const file = await hashFile(f);
    objectBytes += encodeObject(file).length;
    for (const c of file.chunks) {
      if (seen.has(c.hash)) continue;
      seen.add(c.hash);
      out.push(c);
    }
  }
  return { chunks: out, objectBytes };
}

/**
 * The benchmark's own image (bench/bandwidth/image.ts: same generator, sizes and 1% update), cut by
 * the real FastCDC chunker: the simulator moves the pieces a real rollout of it would move.
 */
export async function imagePieces(spec: { bytes: number; files: number }): Promise<ImagePieces> {
  const work = await mkdtemp(join(tmpdir(), 'cs-sim-image-'));
  try {
    const image = await makeImage(work, spec);
    const v1 = await uniqueChunks(image.v1);
    const v2 = groupPieces((await uniqueChunks(image.v2)).chunks);
    const old = new Set(v1.chunks.map((c) => c.hash));
    return {
      v1Bytes: image.v1Bytes,
      v1: groupPieces(v1.chunks).map((p) => p.size),
      v2: v2.map((p) => p.size),
      v1Chunks: v1.chunks,
      v2HeldFromV1: Uint8Array.from(v2, (p) => (p.chunks.every((c) => old.has(c.hash)) ? 1 : 0)),
      v1ObjectBytes: v1.objectBytes,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
