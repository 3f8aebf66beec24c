import type { ChunkHash, ObjectHash, ReleaseId } from '../core/index.js';

/** Chunking parameters (DESIGN.md): a file no larger than MIN is a single chunk. */
export const CHUNK_MIN = 16 * 1024;

/** Whether a file of `size` bytes is one chunk whatever its bytes: staging writes it in one write. */
export function isOneChunk(size: number): boolean {
  return size <= CHUNK_MIN;
}
export const CHUNK_AVG = 64 * 1024;
export const CHUNK_MAX = 256 * 1024;

export interface ChunkRef {
  hash: ChunkHash;
  size: number;
}

/** A regular file's content. */
export interface FileObject {
  kind: 'file';
  size: number;
  chunks: ChunkRef[];
}

export type EntryType = 'file' | 'dir' | 'symlink';

export interface TreeEntry {
  /** One path component: no '/', not '.' or '..', no NUL, not empty. */
  name: string;
  type: EntryType;
  /** Permission bits only (mode & 0o7777). */
  mode: number;
  /** Modification time, integer milliseconds since the epoch. */
  mtime: number;
  uid?: number;
  gid?: number;
  /** file: FileObject hash; dir: TreeObject hash. */
  hash?: ObjectHash;
  /** symlink only: the link target, stored verbatim. */
  target?: string;
  /**
   * file only: hard-link group inside this release, numbered 1.. in canonical walk order of the
   * group's first member. Entries sharing a group are hard links of one inode.
   */
  link?: number;
}

/** One directory: entries sorted by name, byte-wise (UTF-8). */
export interface TreeObject {
  kind: 'tree';
  entries: TreeEntry[];
}

/** The signed head of a version of the tree. */
export interface ReleaseBody {
  kind: 'release';
  /** Cluster id: hex SHA-256 of the publisher public key (raw 32 bytes). */
  cluster: string;
  /** Strictly increasing across a cluster's releases. */
  version: number;
  root: ObjectHash;
  parent: ReleaseId | null;
  /** Integer milliseconds since the epoch. */
  created: number;
  note: string;
}

export interface SignedRelease {
  body: ReleaseBody;
  /** Raw 32-byte Ed25519 public key of the publisher. */
  publicKey: Uint8Array;
  /** 64-byte Ed25519 signature over encodeReleaseBody(body). */
  signature: Uint8Array;
}

export type ManifestObject = FileObject | TreeObject;

/** Bounds enforced when decoding anything that came from a disk or a peer. */
export interface DecodeLimits {
  maxEncodedBytes: number;
  maxEntries: number;
  maxChunks: number;
  maxNameBytes: number;
  maxTargetBytes: number;
  maxNoteBytes: number;
  maxFileSize: number;
}

export const DEFAULT_LIMITS: DecodeLimits = {
  maxEncodedBytes: 64 * 1024 * 1024,
  maxEntries: 1_000_000,
  // 1 TiB of minimum-size chunks would be 2^26; files beyond 1 TiB are refused anyway.
  maxChunks: 1 << 26,
  maxNameBytes: 255,
  maxTargetBytes: 4095,
  maxNoteBytes: 64 * 1024,
  maxFileSize: 2 ** 40,
};
