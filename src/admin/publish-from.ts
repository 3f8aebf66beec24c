import { ChunkswarmError, isChunkswarmError } from '../core/index.js';
import { readSecretFile, type Config } from '../config/index.js';
import { clusterIdOf, releaseId, signRelease, verifyRelease, type ReleaseBody } from '../manifest/index.js';
import { DataLock, InodeCache, ObjectStore, PUBLISH_LOCK, ReleaseStore } from '../store/index.js';
import { objectsKeptNote, Stager } from '../deploy/index.js';
import { publisherOf } from './publish.js';

export interface PublishFromOptions {
  config: Config;
  /** The old version whose tree becomes the new release. */
  from: number;
  note?: string;
}

export interface PublishFromSummary {
  version: number;
  releaseId: string;
  from: number;
  root: string;
  /** Files that share the old release's inodes. */
  linkedFiles: number;
  /** Pieces copied from local files because the old tree is no longer (fully) on disk. */
  copiedPieces: number;
}

/**
 * Publishes an old release's tree again as a new, higher version: the roll-back for the whole
 * cluster, since nodes only move forward by themselves. No source tree is read; the new release is
 * materialized from the old one (hard links), or from local chunks if it was garbage-collected.
 */
export async function publishFrom(opts: PublishFromOptions): Promise<PublishFromSummary> {
  const { config } = opts;
  const publisher = publisherOf(config);
  return DataLock.holding(config.dataDir, 'republish', () => republishUnderLock(opts, publisher.privateKeyFile), PUBLISH_LOCK);
}

async function republishUnderLock(opts: PublishFromOptions, keyFile: string): Promise<PublishFromSummary> {
  const { config } = opts;
  const privateKeyPem = await readSecretFile(keyFile);
  const releases = new ReleaseStore(config.dataDir);
  await releases.init();
  const objects = new ObjectStore(releases.objectsDir);
  try {
    return await republishWith(opts, privateKeyPem, releases, objects);
  } finally {
    objects.close();
  }
}

async function republishWith(opts: PublishFromOptions, privateKeyPem: string, releases: ReleaseStore, objects: ObjectStore): Promise<PublishFromSummary> {
  const { config } = opts;
  const old = await releases.head(opts.from);
  const latest = (await releases.latest())!;
  const publicKey = Buffer.from(config.cluster.publisherKey, 'hex');
  const body: ReleaseBody = {
    kind: 'release',
    cluster: clusterIdOf(publicKey),
    version: latest.body.version + 1,
    root: old.body.root,
    parent: releaseId(latest.body),
    created: Date.now(),
    note: opts.note ?? `republished from version ${opts.from}`,
  };
  const signed = signRelease(body, privateKeyPem, publicKey);
  verifyRelease(signed, publicKey);
  const stager = await Stager.open({
    release: signed,
    releases,
    objects,
    inodes: await InodeCache.open(config.dataDir),
    liveVersion: opts.from,
  }).catch((err: unknown) => {
    if (!isChunkswarmError(err, 'E_NOT_FOUND')) throw err;
    throw new ChunkswarmError(
      'E_NOT_FOUND',
      `version ${opts.from} cannot be built again on this node: ${err.message}, and ${objectsKeptNote(config.releases.keep)}. Publish its source again`,
      { cause: err },
    );
  });
  const missing = stager.missing().length;
  if (missing > 0) {
    await stager.close();
    throw new ChunkswarmError(
      'E_NOT_FOUND',
      `${missing} pieces of version ${opts.from} are no longer on this node (its tree was garbage-collected and no other release holds them)`,
    );
  }
  await stager.complete();
  await releases.saveHead(signed);
  await releases.saveState({ ...(await releases.state()), live: body.version });
  return {
    version: body.version,
    releaseId: releaseId(body),
    from: opts.from,
    root: body.root,
    linkedFiles: stager.linkedFiles,
    copiedPieces: stager.copied,
  };
}
