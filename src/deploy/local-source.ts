import { join, resolve } from 'node:path';
import { ChunkswarmError, isChunkswarmError, type ObjectHash } from '../core/index.js';
import { objectHash, verifyRelease, type ChunkRef, type SignedRelease } from '../manifest/index.js';
import { ChunkIndex, fetchObjects, ObjectStore, ReleaseStore } from '../store/index.js';
import type { ChunkSlot } from './plan.js';
import { treePackName } from './release-files.js';
import { readVerified } from './stage-fs.js';

/**
 * Where missing chunks may come from besides this node's own releases; must return the exact bytes
 * or null. `at` is where the chunk lies in the release (path relative to its root), if known: a
 * source holding the same release can read it there without an index.
 */
export type ChunkSource = (chunk: ChunkRef, at: ChunkSlot | null) => Promise<Uint8Array | null>;

/**
 * Another node's data directory on this machine (a mounted backup, a second node in a test, a
 * single-host setup) as a source of one release: its signed head is verified with this cluster's
 * publisher key, its objects by their hashes, its chunks by re-hashing; nothing is trusted as is.
 */
export async function importFromDataDir(o: {
  from: string;
  version: number;
  publisherKey: Uint8Array;
  releases: ReleaseStore;
  objects: ObjectStore;
}): Promise<{ release: SignedRelease; source: ChunkSource }> {
  const other = new ReleaseStore(resolve(o.from));
  const otherObjects = new ObjectStore(other.objectsDir);
  const release = await other.head(o.version).catch(async (err: unknown) => {
    if (!isChunkswarmError(err, 'E_NOT_FOUND')) throw err;
    // Named by what the source is: a wrong path and a release the source lacks are both "not found".
    const there = await other.versions();
    throw new ChunkswarmError(
      'E_NOT_FOUND',
      there.length === 0
        ? `${o.from} holds no signed release: --source-data names a node's data directory (the one with heads/ and releases/)`
        : `release ${o.version} is not in ${o.from}, which holds ${there.length} release${there.length === 1 ? '' : 's'}, the newest ${there[there.length - 1]}`,
    );
  });
  verifyRelease(release, o.publisherKey);
  // Its file and tree objects in two reads where it has the release's packs: without them the
  // first getBytes indexes every object journal of the source (10^5 records a release). fetchObjects
  // takes them as checked: a pack's records are checked here, what getBytes reads it checks itself.
  const files = otherObjects.packBytes(release.body.root);
  const trees = otherObjects.packBytes(treePackName(release.body.root));
  await fetchObjects(release.body.root, o.objects, async (hash: ObjectHash) => {
    const fromPack = files?.get(hash) ?? trees?.get(hash);
    if (fromPack) {
      const got = objectHash(fromPack);
      if (got !== hash) throw ChunkswarmError.hashMismatch(`object of release ${o.version} in ${o.from}'s pack`, hash, got);
      return fromPack;
    }
    const bytes = await otherObjects.getBytes(hash);
    if (!bytes) throw ChunkswarmError.notFound(`object ${hash} of release ${o.version} in ${o.from}`);
    return bytes;
  });
  await o.releases.saveHead(release);
  const base = other.releasePath(o.version);
  const index = new ChunkIndex({ releases: other, objects: otherObjects });
  return {
    release,
    source: async (chunk, at) => (at ? readVerified(join(base, at.path), at.offset, chunk.size, chunk.hash) : null) ?? index.readChunk(chunk.hash),
  };
}
