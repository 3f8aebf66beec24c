import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { decodeObject, type TreeObject } from '../manifest/index.js';
import type { ObjectStore } from './object-store.js';

/**
 * Asks a source (the swarm, another data directory) for one object's bytes, checked to hash to
 * `hash`: the wire checks what each peer sends (to drop the one that lied), so the store does not
 * hash them a second time.
 */
export type ObjectRequester = (hash: ObjectHash) => Promise<Uint8Array>;

/** A tree object fetched, stored once all of its children are. */
interface PendingTree {
  hash: ObjectHash;
  raw: Uint8Array;
  tree: TreeObject;
  children: number;
}

/**
 * Makes every tree and file object of a release local, walking down from the root. A tree object
 * is stored only after everything below it, so a local tree object means a complete subtree and
 * is skipped without looking inside: a new release costs only the objects on its changed paths.
 * `concurrency` requests at a time, depth first, from one work list: memory follows what is in
 * flight and the directories on the way down, not the size of the release. Each distinct object
 * is fetched once however many paths share it (a subtree referenced 16 times in each of 6 levels
 * is 8 objects, not 16^6 requests): a reference to an object under way waits for it. Enough
 * requests at a time that a directory's files go out together (a peer takes them in batches: see
 * ObjectClient); each step is a few hundred bytes while it waits.
 */
export async function fetchObjects(
  root: ObjectHash,
  objects: ObjectStore,
  request: ObjectRequester,
  concurrency = 512,
): Promise<{ fetched: number; bytes: number }> {
  return objects.fetching(() => fetchInto(root, objects, request, concurrency));
}

async function fetchInto(root: ObjectHash, objects: ObjectStore, request: ObjectRequester, concurrency: number): Promise<{ fetched: number; bytes: number }> {
  const out = { fetched: 0, bytes: 0 };
  const work: Array<{ hash: ObjectHash; tree: boolean; parent: PendingTree | null }> = [{ hash: root, tree: true, parent: null }];
  /** Objects under way (not stored yet), with the trees that wait for each. */
  const underWay = new Map<string, Array<PendingTree | null>>();
  let busy = 0;
  let failed: unknown = null;
  const stored = async (hash: ObjectHash): Promise<void> => {
    const waiting = underWay.get(hash) ?? [];
    underWay.delete(hash);
    for (const t of waiting) if (t && --t.children === 0) await objects.putVerified(t.raw, t.hash, t.tree).then(() => stored(t.hash));
  };
  const step = async (task: (typeof work)[number]): Promise<void> => {
    const waiting = underWay.get(task.hash);
    if (waiting) return void waiting.push(task.parent);
    underWay.set(task.hash, [task.parent]);
    if (objects.has(task.hash)) return stored(task.hash);
    const raw = await request(task.hash);
    out.fetched++;
    out.bytes += raw.length;
    if (!task.tree) {
      await objects.putVerified(raw, task.hash);
      return stored(task.hash);
    }
    const tree = decodeObject(raw);
    if (tree.kind !== 'tree') throw ChunkswarmError.badObject(`${task.hash} should be a tree object, a peer sent a ${tree.kind}`);
    // A present child is complete (see above): an update's changed directory lists 10^2-10^3
    // files of which a few are new, and a step each for the others was most of the walk.
    const children = tree.entries.filter((e) => e.type !== 'symlink' && !objects.has(e.hash!));
    if (children.length === 0) {
      await objects.putVerified(raw, task.hash, tree);
      return stored(task.hash);
    }
    const node: PendingTree = { hash: task.hash, raw, tree, children: children.length };
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
