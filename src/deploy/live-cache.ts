import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { StatCache, type StatKey } from '../store/index.js';

/**
 * The stat cache behind quick verification: live path -> (fingerprint, content hash). It is keyed
 * by path, not version: a fingerprint names an inode's state, whichever release holds it.
 */
export function openLiveCache(dataDir: string): Promise<StatCache> {
  return new StatCache(join(dataDir, 'live-cache.json')).load();
}

/**
 * size, mtime and inode, without ctime: our own link(2) and unlink(2) (staging, GC) move the ctime
 * of every shared inode, which would turn each deploy into a full re-hash. An edit that restores
 * size and mtime in place is left to deep verification.
 */
export function liveKey(st: Stats): StatKey {
  return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: 0, ino: st.ino };
}

/** Files modified this recently may change again within the timestamp granularity: not cached. */
export function racyBefore(): number {
  return Date.now() - 1000;
}
