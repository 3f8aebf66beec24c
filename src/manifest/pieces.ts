import type { ObjectHash } from '../core/index.js';
import type { ChunkRef, FileObject, TreeEntry } from './types.js';
import { walkTree, type LoadFile, type LoadTree } from './walk.js';

/**
 * One BitTorrent piece of a release: a run of consecutive unique chunks. The chunk stays the unit
 * of dedup and verification (a piece is checked chunk by chunk); the piece is the unit of
 * transfer, so that 20,000 small files are a few hundred requests, not 20,000.
 */
export interface Piece {
  size: number;
  chunks: readonly ChunkRef[];
}

/**
 * A byte range of one piece: what a request asks for (BitTorrent's begin and length). A node that
 * holds most of a piece already (an update: the unchanged files' chunks are linked, not fetched)
 * asks only for the span of the chunks it lacks.
 */
export interface PieceRange {
  offset: number;
  length: number;
}

/** All of a piece. */
export function wholePiece(piece: Piece): PieceRange {
  return { offset: 0, length: piece.size };
}

/** Whether `r` is a non-empty range inside `piece`. */
export function rangeFits(piece: Piece, r: PieceRange): boolean {
  return Number.isInteger(r.offset) && Number.isInteger(r.length) && r.offset >= 0 && r.length >= 1 && r.offset + r.length <= piece.size;
}

/**
 * Reads range `r` of `piece` into `out` (r.length bytes), reading only the chunks it overlaps, each
 * whole (the chunk is the unit of verification: `readChunk(j, into)` fills chunk j of the piece,
 * verified, or returns false); a chunk the range cuts is read aside and the overlap copied.
 * False if a chunk could not be read or `r` does not fit the piece.
 */
export async function readPieceRange(
  piece: Piece,
  r: PieceRange,
  out: Uint8Array,
  readChunk: (j: number, into: Uint8Array) => boolean | Promise<boolean>,
): Promise<boolean> {
  if (!rangeFits(piece, r) || out.length !== r.length) return false;
  const end = r.offset + r.length;
  let at = 0;
  for (let j = 0; j < piece.chunks.length && at < end; j++) {
    const size = piece.chunks[j]!.size;
    const start = at;
    at += size;
    if (at <= r.offset) continue;
    const inside = start >= r.offset && at <= end;
    const into = inside ? out.subarray(start - r.offset, at - r.offset) : new Uint8Array(size);
    // A reader that answers at once (staging's) is not awaited: a piece is up to 10^2 chunks.
    const ok = readChunk(j, into);
    if (!(typeof ok === 'boolean' ? ok : await ok)) return false;
    if (inside) continue;
    const from = Math.max(r.offset, start);
    out.set(into.subarray(from - start, Math.min(end, at) - start), from - r.offset);
  }
  return true;
}

/** Largest target size of a piece. */
export const PIECE_MAX = 1 << 20;
/** Smallest target size: a small release keeps enough pieces for its peers to trade. */
export const PIECE_MIN = 64 * 1024;
/**
 * About this many pieces per release at most. 1024 (BitTorrent's usual count) made the pieces of
 * a 100 MB release ~90 KiB, and a piece costs ~0.2 ms of CPU at the sender and ~0.5 ms at the
 * receiver whatever its size (messages, scheduling, records, writes): with 256, bench:transfer
 * moved 128 MB at 162-183 MB/s instead of 113-118, the demo's 8 followers were live in 7.2-7.6 s
 * instead of 9.1-10.6, and a cold bench:seed cost each follower 4.2-4.5 s of CPU instead of 6.5-7.3.
 */
const PIECES_PER_RELEASE = 256;

/**
 * The target size of a release's pieces: its unique bytes / 256, rounded up to a power of two,
 * between 64 KiB and 1 MiB. Releases from 256 MB get ~1 MiB pieces; one of 16 MB or less keeps
 * 64 KiB pieces, about one chunk, so that a new piece spreads over a slow swarm in short hops
 * (see the README, Scale: piece size), and an edit costs one piece of a size in proportion.
 */
export function pieceTarget(totalBytes: number): number {
  let t = PIECE_MIN;
  while (t < PIECE_MAX && t * PIECES_PER_RELEASE < totalBytes) t *= 2;
  return t;
}

/**
 * Groups chunks, in order, into pieces: a chunk joins the current piece while the piece stays
 * within the target size; a piece holds at least one chunk (a chunk is at most 256 KiB, so a
 * piece is never above PIECE_MAX). `target` is the release's pieceTarget() unless given (the
 * simulator tries others).
 */
export function groupPieces(chunks: readonly ChunkRef[], target = pieceTarget(chunks.reduce((n, c) => n + c.size, 0))): Piece[] {
  const pieces: Piece[] = [];
  let start = 0;
  let size = 0;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    if (i > start && size + c.size > target) {
      pieces.push({ size, chunks: chunks.slice(start, i) });
      start = i;
      size = 0;
    }
    size += c.size;
  }
  if (start < chunks.length) pieces.push({ size, chunks: chunks.slice(start) });
  return pieces;
}

/** Every distinct chunk of a release once, at its first occurrence in canonical walk order. */
export async function releaseChunks(root: ObjectHash, loadTree: LoadTree, loadFile: LoadFile): Promise<ChunkRef[]> {
  const files: Array<{ entry: TreeEntry; file: FileObject }> = [];
  await walkTree(root, loadTree, async (_path, entry) => {
    if (entry.type === 'file') files.push({ entry, file: await loadFile(entry.hash!) });
  });
  return distinctChunks(files);
}

/**
 * The piece space's order: the chunks of the files (their entries in canonical walk order, each
 * with its object), every distinct chunk once, at its first occurrence. For a caller that holds
 * the release's file objects already (loadRelease), without walking and awaiting each one again.
 */
export function distinctChunks(files: Iterable<{ entry: TreeEntry; file: FileObject }>): ChunkRef[] {
  const out: ChunkRef[] = [];
  const seenChunks = new Set<string>();
  // Hard links and duplicate files share one file object: its chunks are already in. Only a file
  // of several chunks is skipped by its object; for the rest (most files of a tree) a lookup of its
  // one chunk costs the same, and a set of 10^5 file hashes more (a third of this at 50,000 files).
  const seenFiles = new Set<string>();
  for (const { entry, file } of files) {
    if (file.chunks.length > 1) {
      if (seenFiles.has(entry.hash!)) continue;
      seenFiles.add(entry.hash!);
    }
    for (const chunk of file.chunks) {
      if (seenChunks.has(chunk.hash)) continue;
      seenChunks.add(chunk.hash);
      out.push(chunk);
    }
  }
  return out;
}

/** The release's pieces: every node derives the same list from the same root, so piece indexes agree. */
export async function releasePieces(root: ObjectHash, loadTree: LoadTree, loadFile: LoadFile): Promise<Piece[]> {
  return groupPieces(await releaseChunks(root, loadTree, loadFile));
}

/**
 * Per piece of a release, 1 if it holds a chunk that no piece of `previous` (the release before
 * it) holds: content no node can have before the publisher sent it once (SuperSeeder.unproven).
 */
export function newContentPieces(pieces: readonly Piece[], previous: readonly Piece[]): Uint8Array {
  const old = new Set<string>();
  for (const p of previous) for (const c of p.chunks) old.add(c.hash);
  const out = new Uint8Array(pieces.length);
  pieces.forEach((p, i) => {
    if (p.chunks.some((c) => !old.has(c.hash))) out[i] = 1;
  });
  return out;
}
