import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { ObjectHash } from '../core/index.js';
import { inodeKey } from './chunk-index.js';
import { StatCache } from './stat-cache.js';

/** The fields of an lstat that name an inode's state. */
export type InodeStat = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;

/**
 * What quick verification trusts: inode ("dev:ino") -> (size, mtime, ctime, file object hash). An
 * inode is the unit because releases share inodes: one entry vouches for a file in every release
 * that holds it. ctime is in the key because an edit that puts mtime back still moves ctime.
 *
 * Our own link(2) and unlink(2) move the ctime of an inode too; `carry` keeps the entry across
 * them, so that hard-linking 10^5 files into a new release does not turn the next check into a
 * full re-hash.
 */
export class InodeCache {
  private constructor(private readonly cache: StatCache) {}

  static async open(dataDir: string): Promise<InodeCache> {
    return new InodeCache(await new StatCache(join(dataDir, 'inode-cache.json')).load());
  }

  /** A cache that is never saved (a one-off check). */
  static memory(): InodeCache {
    return new InodeCache(new StatCache(null));
  }

  /** The file object hash this inode held when it was last hashed, if it is in that same state now. `key`: inodeKey(st), where the caller has it. */
  hashOf(st: InodeStat, key = inodeKey(st)): ObjectHash | null {
    return this.cache.lookup(key, st);
  }

  /**
   * Records an inode's content hash. A file whose mtime is within a second of now may still change
   * without moving it (timestamps are only as fine as the kernel's clock tick): not remembered.
   * ctime is not held to that rule: for a content change to hide, the edit would have to put mtime
   * back within the same tick as our lstat, which only a deep verify can catch anyway.
   */
  remember(st: InodeStat, hash: ObjectHash): void {
    if (st.mtimeMs >= Date.now() - RACY_MS) return this.forget(st);
    this.cache.set(inodeKey(st), st, hash);
  }

  /**
   * After our own link or unlink of a path of this inode: `before` was its state just before,
   * `after` just after. If `before` was vouched for and only ctime moved, `after` is vouched for.
   */
  carry(before: InodeStat, after: InodeStat): boolean {
    const hash = this.hashOf(before);
    if (hash === null || after.ino !== before.ino || after.dev !== before.dev || after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      this.forget(after);
      return false;
    }
    this.cache.set(inodeKey(after), after, hash);
    return true;
  }

  /**
   * Records that a directory, in this state, holds exactly the names of `tree`. Adding, removing or
   * renaming a name moves the directory's mtime and ctime, so while holdsTree answers yes the
   * directory need not be listed (git's untracked cache); remember's racy rule applies.
   */
  rememberTree(dir: InodeStat, tree: ObjectHash): void {
    this.remember(dir, tree);
  }

  /** Whether the directory, in its present state, holds exactly the names of `tree` (rememberTree). */
  holdsTree(dir: InodeStat, tree: ObjectHash): boolean {
    return this.hashOf(dir) === tree;
  }

  forget(st: Pick<Stats, 'dev' | 'ino'>): void {
    this.cache.delete(inodeKey(st));
  }

  /** Saving only saves work later: a full disk must not fail the operation that used the cache. */
  async save(): Promise<void> {
    await this.cache.save().catch(() => undefined);
  }
}

const RACY_MS = 1000;
