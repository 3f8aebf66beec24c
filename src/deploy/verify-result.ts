// What a check of a live tree finds, apart from the check itself: the CLI prints it and sets its
// exit status from it without loading the check's code.

/**
 * modified: content (or symlink target); meta: same content, other mode, mtime or owner;
 * type: a file became a directory, etc.; added: a path the release does not have.
 */
export type DriftKind = 'added' | 'removed' | 'modified' | 'meta' | 'type';

export interface EntryState {
  type: string;
  size: number;
  /** Milliseconds since the epoch. */
  mtime: number;
  /** Permission bits as they are (new) or must be (old) on disk: releases are read-only. */
  mode: number;
  uid?: number;
  gid?: number;
  /** Regular files: the file object hash of the content. */
  hash?: string;
  target?: string;
  /** "dev:ino" of what is on disk (new only). */
  inode?: string;
}

export interface DriftEntry {
  path: string;
  kind: DriftKind;
  /** What the release says (absent for added paths). */
  old?: EntryState;
  /** What is on disk (absent for removed paths). */
  new?: EntryState;
}

export interface VerifyResult {
  version: number;
  dir: string;
  deep: boolean;
  /** Entries of the release looked at. */
  checked: number;
  /** Files read and hashed (quick mode: only those the stat cache could not vouch for). */
  hashed: number;
  counts: Record<DriftKind, number>;
  entries: DriftEntry[];
}

/** Exit status of `verify`: 1 something added, 2 something removed, 4 something changed. */
export function verifyExitBits(r: VerifyResult): number {
  const c = r.counts;
  return (c.added > 0 ? 1 : 0) | (c.removed > 0 ? 2 : 0) | (c.modified + c.meta + c.type > 0 ? 4 : 0);
}
