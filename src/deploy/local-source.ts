import { resolve } from 'node:path';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { verifyRelease, type SignedRelease } from '../manifest/index.js';
import { ChunkIndex, ObjectStore, ReleaseStore } from '../store/index.js';

/** Where missing pieces may come from besides this node's own releases; must return the exact bytes or null. */
export type ChunkSource = (hash: string) => Promise<Uint8Array | null>;

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
  const release = await other.head(o.version);
  verifyRelease(release, o.publisherKey);
  const copy = async (hash: ObjectHash): Promise<void> => {
    if (!(await o.objects.has(hash))) {
      const bytes = await otherObjects.getBytes(hash);
      if (!bytes) throw ChunkswarmError.notFound(`object ${hash} of release ${o.version} in ${o.from}`);
      await o.objects.putBytes(bytes, hash);
    }
    const obj = await o.objects.get(hash);
    if (obj.kind !== 'tree') return;
    for (const e of obj.entries) if (e.type !== 'symlink') await copy(e.hash!);
  };
  await copy(release.body.root);
  await o.releases.saveHead(release);
  const index = new ChunkIndex({ releases: other, objects: otherObjects });
  return { release, source: (hash) => index.readChunk(hash) };
}
