import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { decodeObject, type TreeObject } from '../manifest/index.js';
import type { ObjectStore } from './object-store.js';

/** Asks a source (the swarm, another data directory) for one object's bytes. */
export type ObjectRequester = (hash: ObjectHash) => Promise<Uint8Array>;

/** A tree object fetched, stored once all of its children are. */
interface PendingTree {
  hash: ObjectHash;
  raw: Uint8Array;
  children: number;
  parent: PendingTree | null;
}

/**
 * Makes every tree and file object of a release local, walking down from the root. A tree object
 * is stored only after everything below it, so a local tree object means a complete subtree and
 * is skipped without looking inside: a new release costs only the objects on its changed paths.
 * `concurrency` requests at a time, depth first, from one work list: memory follows what is in
 * flight and the directories on the way down, not the size of the release.
 */
export async function fetchObjects(
  root: ObjectHash,
  objects: ObjectStore,
  request: ObjectRequester,
  concurrency = 16,
): Promise<{ fetched: number; bytes: number }> {
  const out = { fetched: 0, bytes: 0 };
  const work: Array<{ hash: ObjectHash; tree: boolean; parent: PendingTree | null }> = [{ hash: root, tree: true, parent: null }];
  let busy = 0;
  let failed: unknown = null;
  const finished = async (t: PendingTree | null): Promise<void> => {
    for (let node = t; node && --node.children === 0; node = node.parent) await objects.putBytes(node.raw, node.hash);
  };
  const step = async (task: (typeof work)[number]): Promise<void> => {
    if (await objects.has(task.hash)) return finished(task.parent);
    const raw = await request(task.hash);
    out.fetched++;
    out.bytes += raw.length;
    if (!task.tree) {
      await objects.putBytes(raw, task.hash);
      return finished(task.parent);
    }
    const tree = decodeObject(raw);
    if (tree.kind !== 'tree') throw ChunkswarmError.badObject(`${task.hash} should be a tree object, a peer sent a ${tree.kind}`);
    const children = (tree as TreeObject).entries.filter((e) => e.type !== 'symlink');
    if (children.length === 0) {
      await objects.putBytes(raw, task.hash);
      return finished(task.parent);
    }
    const node: PendingTree = { hash: task.hash, raw, children: children.length, parent: task.parent };
    for (const e of children) work.push({ hash: e.hash!, tree: e.type === 'dir', parent: node });
  };
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      if (failed) return;
      if (work.length === 0 && busy === 0) return resolve();
      while (busy < concurrency && work.length > 0) {
        const task = work.pop()!;
        busy++;
        step(task).then(
          () => {
            busy--;
            pump();
          },
          (err: unknown) => {
            failed = err;
            reject(err);
          },
        );
      }
    };
    pump();
  });
  return out;
}
