import { createHash } from 'node:crypto';
import { lstatSync, realpathSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { readSecretFile, type Config } from '../config/index.js';
import { clusterIdOf, diffTrees, releaseId, signRelease, verifyRelease, type SignedRelease } from '../manifest/index.js';
import { DataLock, InodeCache, ObjectStore, PUBLISH_LOCK, ReleaseStore, StatCache, removeTree, type ChunkIndex, type JournalCompaction } from '../store/index.js';
import { collectGarbage, isRoot, lstatAheadOf, moveIntoPlace, recycleRelease, type FileAction } from '../deploy/index.js';
import { buildTrees } from './build-objects.js';
import { hashChanged } from './hash-changed.js';
import { buildReleaseTree, newContent } from './publish-tree.js';
import { scanSource, type ScanResult } from './scan-source.js';

export interface PublishOptions {
  config: Config;
  source: string;
  note?: string;
  /** Publish a new version even if the tree equals the newest release. */
  force?: boolean;
  /** Publish even if the tree lost half its files or more since the newest release (see shrinkOf). */
  allowShrink?: boolean;
  onProgress?: (p: PublishProgress) => void;
  /** The index of the running node that serves chunks from the release trees (publish run by `serve`). */
  chunkIndex?: ChunkIndex;
  /** Kept by a process that publishes again and again (the master's `serve`) instead of read from disk each time. */
  caches?: PublishCaches;
  /** The source's scan, begun before the publish was asked for (scanAhead); scanned here if it failed. */
  scanned?: SourceScan;
}

/** A scan of a source begun ahead of its publish: by the master's node, while the `publish` command starts (NodePublish.prescan). */
export interface SourceScan {
  source: string;
  /** Date.now() before its first lstat: the stat cache's racy window counts back from it. */
  startedAt: number;
  result: Promise<ScanResult>;
}

/** What the master's node keeps from one publish to the next. */
export interface PublishCaches {
  /** The node's own inode cache: two copies in one process would each save over what the other learnt. */
  inodes: InodeCache;
  /** The stat cache of each source tree published, by openSourceCache's key. */
  sources: Map<string, StatCache>;
  /**
   * The node's object store: the objects a publish writes through it are in its memory when the
   * node serves the release right after. A store of the publish's own made the node read back and
   * hash every file object of the release, one read each, before its first piece could go out
   * (0.59 s of a 50,000-file publish in the master's profile).
   */
  objects?: ObjectStore;
}

export interface PublishProgress {
  phase: 'scan' | 'hash' | 'materialize' | 'sign';
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface PublishSummary {
  /** null when the tree equals the newest release and nothing was published. */
  version: number | null;
  releaseId: string | null;
  root: ObjectHash;
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  hashedFiles: number;
  hashedBytes: number;
  /** Files hard-linked from the previous release. */
  reusedFiles: number;
  /** The old release whose tree the new one was built in (it is gone), or null: a new directory. */
  recycledFrom: number | null;
  /** Chunks of added and changed files that their previous versions did not hold. */
  newChunks: number;
  newBytes: number;
  skipped: Array<{ path: string; kind: string }>;
  seconds: number;
  /** Chunk+hash throughput over the bytes actually read. */
  mbPerSec: number;
  /** What failed after the release was published (it stands): collecting the trees beyond releases.keep. */
  warnings: string[];
  /** The object journals, if the gc after the publish compacted them. */
  objectsCompacted: JournalCompaction | null;
}

/**
 * Linux stamps mtime/ctime from a coarse clock (a jiffy, at most 10 ms), so a write just after our
 * lstat can leave both unchanged. Files changed this close to the scan are re-hashed next time.
 */
const RACY_WINDOW_MS = 1000;

/**
 * A source tree that holds this node's own data directory or key files (`publish /srv` with the
 * node under /srv/chunkswarm) would ship them to every node: the publisher's private key, the
 * cluster secret, and every release inside the next one. Refused before anything is read.
 */
function refuseOwnFiles(config: Config, keyFile: string, source: string): void {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const src = real(source);
  const own: Array<[string, string]> = [
    ['data directory', config.dataDir],
    ['publisher key', keyFile],
    ['cluster secret', config.cluster.secretFile],
    ['config', config.configPath],
  ];
  for (const [what, path] of own) {
    const p = real(path);
    if (p !== src && !p.startsWith(`${src}/`) && src !== '/') continue;
    throw ChunkswarmError.usage(
      `the source ${source} holds this node's ${what} (${path}): publishing it would send it to every node. ` +
        `Publish the tree alone, or move the node's files out of it (dataDir, the key files and the config are set in ${config.configPath})`,
    );
  }
}

/**
 * What a tree lost since `before`, when it lost half its files or more (null otherwise): the
 * mistake rsync --delete is feared for, an empty mount point or a wrong path, would empty every
 * node at once. From the trees' difference, whose cost follows the change.
 */
async function shrinkOf(before: ObjectHash, after: ObjectHash, files: number, objects: ObjectStore): Promise<{ gone: number; had: number | null } | null> {
  let gone = 0;
  let added = 0;
  // More files gone than the tree holds now is half at least: past SHRINK_COUNT_MAX of them the
  // walk stops (a removed subtree is listed whole, and a release may expand to millions of paths),
  // and the counts are lower bounds (`had` unknown).
  const stopped = (gone: number) => gone > files && gone >= SHRINK_COUNT_MAX;
  await diffTrees(before, after, (h) => objects.getTree(h), (c) => {
    if (c.change === 'removed' && c.old?.type === 'file') gone++;
    if (c.change === 'added' && c.new?.type === 'file') added++;
    return stopped(gone);
  });
  if (stopped(gone)) return { gone, had: null };
  const had = gone + files - added;
  return gone > 0 && gone * 2 >= had ? { gone, had } : null;
}

const SHRINK_COUNT_MAX = 100_000;

/** The config's publisher section; E_USAGE on a node that is not the publisher (publish, republish, a publish's prescan). */
export function publisherOf(config: Config): NonNullable<Config['publisher']> {
  if (!config.publisher) {
    throw ChunkswarmError.usage('this node is not a publisher: its config has no "publisher" section (chunkswarm init --publisher)');
  }
  return config.publisher;
}

/**
 * Publishes a source tree as the next release: one lstat per file (the stat cache vouches for
 * unchanged ones), changed files hashed and copied in one read, tree objects built, and the
 * release's tree made by the materializer staging uses, hard-linking the previous release's clean
 * files (in the tree of the release beyond releases.keep, where there is one: see recycleTree);
 * then signed and renamed into releases/. The cost follows what changed.
 */
export async function publish(opts: PublishOptions): Promise<PublishSummary> {
  const { config } = opts;
  const publisher = publisherOf(config);
  refuseOwnFiles(config, publisher.privateKeyFile, opts.source);
  return DataLock.holding(config.dataDir, 'publish', () => publishUnderLock(opts, publisher), PUBLISH_LOCK);
}

/**
 * The source's scan, with a helper thread for the lstats where the newest release is large and its
 * trees are at hand (a publish by the running node: in memory since the last one).
 */
async function scanWithHelper(source: string, prev: SignedRelease | null, objects: ObjectStore, maxPaths: number): Promise<ScanResult> {
  const ahead = prev && lstatAheadOf(source, prev.body.root, objects, { maxEntries: maxPaths });
  try {
    return await scanSource(source, ahead);
  } finally {
    await ahead?.helper.close();
  }
}

/**
 * Begins the scan a publish of `source` begins with (read only: lstats of the source, the newest
 * release's trees), for a publish asked for moments later to take (PublishOptions.scanned). A node
 * that is not the publisher refuses, as its publish would.
 */
export function scanAhead(config: Config, source: string, objects: ObjectStore): SourceScan {
  publisherOf(config);
  const startedAt = Date.now();
  const result = new ReleaseStore(config.dataDir).latest().then((prev) => scanWithHelper(source, prev, objects, config.limits.maxReleasePaths));
  // Held for the publish that takes it, which scans again if it failed; none may.
  result.catch(() => undefined);
  return { source, startedAt, result };
}

async function publishUnderLock(opts: PublishOptions, publisher: NonNullable<Config['publisher']>): Promise<PublishSummary> {
  const { config } = opts;
  const started = performance.now();
  const privateKeyPem = await readSecretFile(publisher.privateKeyFile);
  const releases = new ReleaseStore(config.dataDir);
  await releases.init();
  const objects = opts.caches?.objects ?? new ObjectStore(releases.objectsDir);
  const cache = await openSourceCache(config.dataDir, opts.source, opts.caches?.sources);
  const progress = (p: PublishProgress) => opts.onProgress?.(p);
  const early = opts.scanned && (await opts.scanned.result.then((scan) => ({ scan, at: opts.scanned!.startedAt }), () => null));
  const racyBeforeMs = (early ? early.at : Date.now()) - RACY_WINDOW_MS;

  const prev = await releases.latest();
  const scan = early ? early.scan : await scanWithHelper(opts.source, prev, objects, config.limits.maxReleasePaths);
  const bytesTotal = scan.files.reduce((n, f) => n + f.stat.size, 0);
  progress({ phase: 'scan', filesDone: scan.files.length, filesTotal: scan.files.length, bytesDone: 0, bytesTotal });
  const version = (prev?.body.version ?? 0) + 1;
  const staging = releases.stagingPath(version);
  const aside = `${staging}.copies`;
  const inodes = opts.caches?.inodes ?? (await InodeCache.open(config.dataDir));
  await removeTree(staging, { cache: inodes });
  await removeTree(aside, { cache: inodes });
  // A tree renamed into place by a publish that died before saving its head: not a release.
  await removeTree(releases.releasePath(version), { cache: inodes });

  try {
    const hashed = await hashChanged({
      scan, source: opts.source, staging, objects, cache, racyBeforeMs, previous: prev?.body.root ?? null, copyThreads: publisher.copyThreads,
      onProgress: (filesDone, filesTotal, bytesDone) => progress({ phase: 'hash', filesDone, filesTotal, bytesDone, bytesTotal }),
    });
    const root = await buildTrees(scan.root, hashed.fileHashes, objects, { recordOwner: publisher.recordOwner }, prev?.body.root ?? null);
    const summary = (v: SignedRelease | null, reusedFiles: number, fresh: { chunks: number; bytes: number }, recycledFrom: number | null = null): PublishSummary => ({
      version: v?.body.version ?? null, releaseId: v ? releaseId(v.body) : null, root,
      files: scan.files.length, dirs: scan.dirs, symlinks: scan.symlinks, bytes: bytesTotal,
      hashedFiles: hashed.hashedFiles, hashedBytes: hashed.hashedBytes, reusedFiles, recycledFrom, newChunks: fresh.chunks, newBytes: fresh.bytes,
      skipped: scan.skipped, seconds: (performance.now() - started) / 1000, mbPerSec: hashed.seconds > 0 ? hashed.hashedBytes / 1e6 / hashed.seconds : 0, warnings: [],
      objectsCompacted: null,
    });
    if (prev && prev.body.root === root && !opts.force) {
      await removeTree(staging);
      // Every scanned file has its hash: the file hashes name the source's paths.
      cache.retain(hashed.fileHashes);
      await cache.save();
      return summary(null, 0, { chunks: 0, bytes: 0 });
    }

    if (prev && !opts.allowShrink) {
      const shrink = await shrinkOf(prev.body.root, root, scan.files.length, objects);
      if (shrink !== null) {
        const lost = shrink.had !== null
          ? `release ${prev.body.version} ${shrink.had}: publishing it would remove ${shrink.gone} files`
          : `release ${prev.body.version} more than ${SHRINK_COUNT_MAX}: publishing it would remove at least ${shrink.gone} files`;
        throw ChunkswarmError.usage(
          `the source ${opts.source} holds ${scan.files.length} files and ${lost} from every node. A source that is not mounted, or the wrong path, ` +
            `looks like this; if it is what you mean, publish with --allow-shrink`,
        );
      }
    }

    // Files are linked from, and chunks compared with, the newest release on disk (the newest head
    // may be one this node never materialized).
    const onDisk = (await releases.materialized()).at(-1);
    const base = onDisk === undefined ? null : await releases.head(onDisk);
    const fresh = await newContent(base?.body.root ?? null, root, objects);
    progress({ phase: 'materialize', filesDone: 0, filesTotal: scan.files.length, bytesDone: 0, bytesTotal });
    const recycledFrom = await recycleTree(releases, staging, aside, version, config.releases.keep, [onDisk, (await releases.state()).live], opts.chunkIndex);
    const owner = publisher.recordOwner && isRoot();
    const actions = await buildReleaseTree({
      staging, copies: recycledFrom === null ? staging : aside, root, version, previous: base?.body.version ?? null, source: opts.source,
      copied: hashed.copied, sizes: new Map(scan.files.map((f) => [f.path, f.stat.size])), releases, objects, inodes, owner,
    });

    progress({ phase: 'sign', filesDone: scan.files.length, filesTotal: scan.files.length, bytesDone: bytesTotal, bytesTotal });
    const publicKey = Buffer.from(config.cluster.publisherKey, 'hex');
    const signed = signRelease(
      { kind: 'release', cluster: clusterIdOf(publicKey), version, root, parent: prev ? releaseId(prev.body) : null, created: Date.now(), note: opts.note ?? '' },
      privateKeyPem,
      publicKey,
    );
    try {
      verifyRelease(signed, publicKey);
    } catch (err) {
      throw new ChunkswarmError('E_KEY', `the private key in ${publisher.privateKeyFile} does not match cluster.publisherKey`, { cause: err });
    }
    // One syncfs makes the tree and its objects durable before it is named a release and signed.
    const final = releases.releasePath(version);
    await moveIntoPlace(staging, final, version);
    await releases.saveHead(signed);
    await releases.saveState({ ...(await releases.state()), live: version });
    cache.retain(hashed.fileHashes);
    await cache.save();
    await rememberWritten(inodes, final, actions);
    // Recycling takes one tree beyond releases.keep per publish; any other (a republished old
    // release, a lowered keep) stayed on the master for good, with every file only it held.
    const warnings: string[] = [];
    const gc = await collectGarbage({ releases, keep: config.releases.keep, protect: [version], inodes, objects, ...(opts.chunkIndex && { chunkIndex: opts.chunkIndex }) }).catch((err: unknown) => {
      warnings.push(`release ${version} is published, but the release trees beyond releases.keep were not collected: ${ChunkswarmError.fromSystem(err, 'collecting them').message}`);
      return null;
    });
    return { ...summary(signed, actions.filter((a) => a.kind === 'link').length, fresh, recycledFrom), warnings, objectsCompacted: gc?.objects ?? null };
  } catch (err) {
    // The copies of a publish that failed held the space they took (a full disk stayed full) until
    // the next publish; what a recycled tree was is a release beyond releases.keep, collected anyway.
    await removeTree(staging, { cache: inodes }).catch(() => undefined);
    await removeTree(aside, { cache: inodes }).catch(() => undefined);
    throw err;
  } finally {
    // A serve runs a publish after another: each left its journal files open for as long as it ran.
    if (objects !== opts.caches?.objects) objects.close();
  }
}

/**
 * Once releases.keep trees are on disk, the release is built in the tree of the oldest one beyond
 * it, as a follower stages (recycleRelease): most of its paths already hold the inodes the new
 * release links. The files copied while hashing move aside first. Returns the recycled version.
 */
async function recycleTree(
  releases: ReleaseStore, staging: string, aside: string, version: number, keep: number, protect: Array<number | null | undefined>, chunkIndex?: ChunkIndex,
): Promise<number | null> {
  try {
    await mkdir(staging, { recursive: true, mode: 0o700 });
    await rename(staging, aside);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `moving the copies of release ${version} aside`);
  }
  const recycled = await recycleRelease({
    releases, version, keep, protect: protect.filter((v): v is number => typeof v === 'number'), ...(chunkIndex && { chunkIndex }),
  });
  if (recycled === null) {
    try {
      await rename(aside, staging);
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `moving the copies of release ${version} back`);
    }
  }
  return recycled;
}

/** The stat cache of one source tree: a publisher may publish several ("./src" and its absolute path are one). */
async function openSourceCache(dataDir: string, source: string, kept?: Map<string, StatCache>): Promise<StatCache> {
  const key = createHash('sha256').update(resolve(source)).digest('hex').slice(0, 16);
  await mkdir(join(dataDir, 'stat-cache'), { recursive: true });
  const cached = kept?.get(key);
  if (cached) return cached;
  const cache = await new StatCache(join(dataDir, 'stat-cache', `${key}.json`)).load();
  kept?.set(key, cache);
  return cache;
}

/** Every file written into the release was hashed as it was copied: the first check of it reads nothing. */
async function rememberWritten(inodes: InodeCache, dir: string, actions: readonly FileAction[]): Promise<void> {
  for (const a of actions) {
    if (a.kind !== 'write') continue;
    const st = lstatSync(join(dir, a.path), { throwIfNoEntry: false });
    if (st?.isFile()) inodes.remember(st, a.entry.hash!);
  }
  await inodes.save();
}
