import { ChunkswarmError, isChunkswarmError, type ObjectHash, type ReleaseId } from '../core/index.js';
import { decodeObject, type TreeObject } from '../manifest/index.js';
import type { ObjectStore } from '../store/index.js';
import type { SessionPeer } from './peer.js';

/** Asks the swarm for one object's bytes; the caller has already checked the hash. */
export type ObjectRequester = (hash: ObjectHash) => Promise<Uint8Array>;

/**
 * Makes every tree and file object of a release local, walking down from the root. A tree object
 * is stored only after everything below it, so a local tree object means a complete subtree and
 * is skipped without looking inside: a new release costs only the objects on its changed paths.
 */
export async function fetchObjects(
  root: ObjectHash,
  objects: ObjectStore,
  request: ObjectRequester,
  concurrency = 16,
): Promise<{ fetched: number; bytes: number }> {
  let fetched = 0;
  let bytes = 0;
  let active = 0;
  const waiters: Array<() => void> = [];
  const slot = async <T>(fn: () => Promise<T>): Promise<T> => {
    while (active >= concurrency) await new Promise<void>((r) => waiters.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiters.shift()?.();
    }
  };
  const get = (hash: ObjectHash) =>
    slot(async () => {
      const b = await request(hash);
      fetched++;
      bytes += b.length;
      return b;
    });

  const ensureFile = async (hash: ObjectHash): Promise<void> => {
    if (await objects.has(hash)) return;
    await objects.putBytes(await get(hash), hash);
  };
  const ensureTree = async (hash: ObjectHash): Promise<void> => {
    if (await objects.has(hash)) return;
    const raw = await get(hash);
    const tree = decodeObject(raw);
    if (tree.kind !== 'tree') throw ChunkswarmError.badObject(`${hash} should be a tree object, a peer sent a ${tree.kind}`);
    await Promise.all(
      (tree as TreeObject).entries.map((e) =>
        e.type === 'dir' ? ensureTree(e.hash!) : e.type === 'file' ? ensureFile(e.hash!) : Promise.resolve(),
      ),
    );
    await objects.putBytes(raw, hash);
  };
  await ensureTree(root);
  return { fetched, bytes };
}

/** Where `requestObject` may ask, and when it must give up. */
export interface ObjectSources {
  /** The release whose objects are wanted. */
  release: ReleaseId;
  peers(): readonly SessionPeer[];
  random: () => number;
  timeoutMs: number;
  /** The release was superseded or the node is closing. */
  cancelled(): boolean;
  /** The peer sent bytes that do not hash to what was asked. */
  wrongObject(p: SessionPeer, hash: ObjectHash): void;
}

/**
 * One object from whichever peer has it, retried until cancelled: a release's objects may only
 * be on a peer that has not connected yet. Peers already working on the release hold all its
 * objects, and so does the publisher; the others are asked last, since each "no such object"
 * costs a round trip.
 */
export async function requestObject(hash: ObjectHash, s: ObjectSources): Promise<Uint8Array> {
  for (let attempt = 0; ; attempt++) {
    if (s.cancelled()) throw new ChunkswarmError('E_CLOSED', 'release superseded or node closing');
    const rank = (p: SessionPeer) => (p.wire.remoteSpace?.release === s.release ? 0 : p.publisher ? 1 : 2);
    const candidates = [...s.peers()].sort((a, b) => rank(a) - rank(b));
    const onIt = candidates.filter((p) => rank(p) === 0).length;
    // Spread the load over the peers on the release; otherwise rotate, in case the first is stuck.
    const start = onIt > 0 ? Math.floor(s.random() * onIt) : attempt % Math.max(1, candidates.length);
    for (let k = 0; k < candidates.length; k++) {
      const p = candidates[(start + k) % candidates.length]!;
      try {
        return await p.wire.requestObject(hash, s.timeoutMs);
      } catch (err) {
        if (isChunkswarmError(err, 'E_HASH_MISMATCH')) s.wrongObject(p, hash);
      }
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, 200 * (attempt + 1))));
  }
}
