import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { decodeObject, type TreeObject } from '../manifest/index.js';
import type { ObjectStore } from './object-store.js';

/** Asks a source (the swarm, another data directory) for one object's bytes. */
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

