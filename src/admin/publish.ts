import { createHash } from 'node:crypto';
import { link, mkdir, rename, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { readSecretFile, type Config } from '../config/index.js';
import { clusterIdOf, releaseId, signRelease, verifyRelease, type ReleaseBody, type SignedRelease, type TreeEntry } from '../manifest/index.js';
import { ObjectStore, ReleaseStore, StatCache, removeTree, syncFilesystem } from '../store/index.js';
import { finalizeTree, sealRoot } from '../deploy/index.js';
import { scanSource, type ScannedDir, type ScannedFile } from './scan-source.js';
import { copyAndHash } from './copy-and-hash.js';
import { buildTrees } from './build-objects.js';
import { indexRelease, sameInode } from './previous-release.js';

export interface PublishOptions {
  config: Config;
  source: string;
  note?: string;
  /** Publish a new version even if the tree equals the newest release. */
  force?: boolean;
  onProgress?: (p: PublishProgress) => void;
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
  reusedFiles: number;
  newChunks: number;
  newBytes: number;
  skipped: Array<{ path: string; kind: string }>;
  seconds: number;
  /** Chunk+hash throughput over the bytes actually read. */
  mbPerSec: number;
}

const CONCURRENCY = 4;
/**
 * Linux stamps mtime/ctime from a coarse clock (a jiffy, at most 10 ms), so a write just after our
 * lstat can leave both unchanged. Files changed this close to the scan are re-hashed next time.
 */
const RACY_WINDOW_MS = 1000;

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function publish(opts: PublishOptions): Promise<PublishSummary> {
  const { config } = opts;
  if (!config.publisher) {
    throw ChunkswarmError.usage('this node is not a publisher: its config has no "publisher" section (chunkswarm init --publisher)');
  }
  const started = performance.now();
  const privateKeyPem = await readSecretFile(config.publisher.privateKeyFile);
  const releases = new ReleaseStore(config.dataDir);
  await releases.init();
  const objects = new ObjectStore(releases.objectsDir);
  const sourceKey = createHash('sha256').update(opts.source).digest('hex').slice(0, 16);
  await mkdir(join(config.dataDir, 'stat-cache'), { recursive: true });
  const cache = await new StatCache(join(config.dataDir, 'stat-cache', `${sourceKey}.json`)).load();
  const progress = (p: PublishProgress) => opts.onProgress?.(p);

  const racyBeforeMs = Date.now() - RACY_WINDOW_MS;
  const scan = scanSource(opts.source);
  const bytesTotal = scan.files.reduce((n, f) => n + f.stat.size, 0);
  progress({ phase: 'scan', filesDone: scan.files.length, filesTotal: scan.files.length, bytesDone: 0, bytesTotal });

  const prev = await releases.latest();
  const version = (prev?.body.version ?? 0) + 1;
  const staging = releases.stagingPath(version);
  await removeTree(staging);

  // In-tree hard links: only a group's first member is read; the others share its object.
  const firstOfGroup = new Map<number, ScannedFile>();
  for (const f of scan.files) if (f.link !== undefined && !firstOfGroup.has(f.link)) firstOfGroup.set(f.link, f);
  const isFollower = (f: ScannedFile) => f.link !== undefined && firstOfGroup.get(f.link) !== f;

  // Hash what the stat cache cannot vouch for, copying it into staging in the same read.
  const fileHashes = new Map<string, ObjectHash>();
  const copied = new Set<string>();
  const toHash: ScannedFile[] = [];
  for (const f of scan.files) {
    if (isFollower(f)) continue;
    const hit = cache.lookup(f.path, StatCache.keyOf(f.stat));
    if (hit) fileHashes.set(f.path, hit);
    else toHash.push(f);
  }
  if (toHash.length > 0) await mkdirTree(staging, scan.root);
  let hashedBytes = 0;
  let hashedFiles = 0;
  const newChunkSet = new Set<string>();
  let newBytes = 0;
  const record = async (f: ScannedFile, file: Awaited<ReturnType<typeof copyAndHash>>) => {
    fileHashes.set(f.path, await objects.put(file));
    cache.set(f.path, StatCache.keyOf(f.stat), fileHashes.get(f.path)!, racyBeforeMs);
    copied.add(f.path);
  };
  const hashStarted = performance.now();
  await pool(toHash, CONCURRENCY, async (f) => {
    const file = await copyAndHash(join(opts.source, f.path), join(staging, f.path), f.path);
    await record(f, file);
    hashedBytes += file.size;
    hashedFiles++;
    progress({ phase: 'hash', filesDone: hashedFiles, filesTotal: toHash.length, bytesDone: hashedBytes, bytesTotal });
  });
  const hashSeconds = (performance.now() - hashStarted) / 1000;
  for (const f of scan.files) {
    if (isFollower(f)) fileHashes.set(f.path, fileHashes.get(firstOfGroup.get(f.link!)!.path)!);
  }

  const { root, entries } = await buildTrees(scan.root, fileHashes, objects, {
    recordOwner: config.publisher.recordOwner,
  });
  let reused = 0;
  const summary = (v: number | null, id: string | null): PublishSummary => {
    const seconds = (performance.now() - started) / 1000;
    return {
      version: v,
      releaseId: id,
      root,
      files: scan.files.length,
      dirs: scan.dirs,
      symlinks: scan.symlinks,
      bytes: bytesTotal,
      hashedFiles,
      hashedBytes,
      reusedFiles: reused,
      newChunks: newChunkSet.size,
      newBytes,
      skipped: scan.skipped,
      seconds,
      mbPerSec: hashSeconds > 0 ? hashedBytes / 1e6 / hashSeconds : 0,
    };
  };

  if (prev && prev.body.root === root && !opts.force) {
    await removeTree(staging);
    cache.retain(new Set(scan.files.map((f) => f.path)));
    await cache.save();
    return summary(null, null);
  }

  // Only now is the previous release worth reading: an unchanged tree never gets here. Files are
  // linked from, and chunks compared with, the newest release on disk (the newest head may be one
  // this node never materialized).
  const onDisk = (await releases.materialized()).at(-1);
  const base = onDisk === undefined ? null : await releases.head(onDisk);
  const prevIndex = base ? await indexRelease(base.body.root, objects) : null;
  for (const f of scan.files) {
    for (const c of (await objects.getFile(fileHashes.get(f.path)!)).chunks) {
      if (prevIndex?.chunks.has(c.hash) || newChunkSet.has(c.hash)) continue;
      newChunkSet.add(c.hash);
      newBytes += c.size;
    }
  }
  await mkdirTree(staging, scan.root);
  progress({ phase: 'materialize', filesDone: 0, filesTotal: scan.files.length, bytesDone: 0, bytesTotal });
  const done = await materializeRest({
    scan, entries, staging, source: opts.source, copied, firstOfGroup, isFollower, prev: base,
    prevEntries: prevIndex?.entries, releases, objects,
  });
  reused = done.size;
  await finalizeTree(staging, root, objects, { done, owner: config.publisher.recordOwner && process.getuid?.() === 0 });
  // One flush makes the release's files and objects durable before it is signed and named.
  await syncFilesystem(staging);

  progress({ phase: 'sign', filesDone: scan.files.length, filesTotal: scan.files.length, bytesDone: bytesTotal, bytesTotal });
  const body: ReleaseBody = {
    kind: 'release',
    cluster: '',
    version,
    root,
    parent: prev ? releaseId(prev.body) : null,
    created: Date.now(),
    note: opts.note ?? '',
  };
  const publicKey = Buffer.from(config.cluster.publisherKey, 'hex');
  body.cluster = clusterIdOf(publicKey);
  const signed = signRelease(body, privateKeyPem, publicKey);
  try {
    verifyRelease(signed, publicKey);
  } catch (err) {
    throw new ChunkswarmError('E_KEY', `the private key in ${config.publisher.privateKeyFile} does not match cluster.publisherKey`, { cause: err });
  }
  await rename(staging, releases.releasePath(version)).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `moving release ${version} into place`);
  });
  await sealRoot(releases.releasePath(version));
  await releases.saveHead(signed);
  await releases.saveState({ ...(await releases.state()), live: version });
  cache.retain(new Set(scan.files.map((f) => f.path)));
  await cache.save();
  return summary(version, releaseId(signed.body));
}

async function mkdirTree(base: string, dir: ScannedDir): Promise<void> {
  await mkdir(join(base, dir.path), { recursive: true, mode: 0o700 });
  for (const c of dir.children) if (c.type === 'dir') await mkdirTree(base, c);
}

/**
 * Places every file not copied during hashing: a hard link to the previous release's inode when
 * content and metadata are the same, a hard link to the group's first member for in-tree hard
 * links, else a verified copy from the source. Returns the paths whose inode is already final.
 */
interface MaterializeInput {
  scan: ReturnType<typeof scanSource>;
  entries: Map<string, TreeEntry>;
  staging: string;
  source: string;
  copied: Set<string>;
  firstOfGroup: Map<number, ScannedFile>;
  isFollower: (f: ScannedFile) => boolean;
  prev: SignedRelease | null;
  prevEntries: Map<string, TreeEntry> | undefined;
  releases: ReleaseStore;
  objects: ObjectStore;
}

async function materializeRest(m: MaterializeInput): Promise<Set<string>> {
  const done = new Set<string>();
  for (const f of m.scan.files) {
    if (m.isFollower(f)) continue;
    const e = m.entries.get(f.path)!;
    if (m.prev && sameInode(m.prevEntries?.get(f.path), e)) {
      // Also replaces a fresh copy whose content turned out unchanged (a touched file, a lost cache).
      const dest = join(m.staging, f.path);
      try {
        if (m.copied.has(f.path)) await unlink(dest);
        await link(join(m.releases.releasePath(m.prev.body.version), f.path), dest);
        done.add(f.path);
        continue;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ChunkswarmError.fromSystem(err, `linking ${f.path}`);
      }
    }
    if (m.copied.has(f.path)) continue;
    const got = await m.objects.put(await copyAndHash(join(m.source, f.path), join(m.staging, f.path), f.path));
    if (got !== e.hash) {
      throw new ChunkswarmError('E_FILE_CHANGED', `${f.path} changed while it was being published; publish again once writers are done`);
    }
  }
  for (const f of m.scan.files) {
    if (!m.isFollower(f)) continue;
    const first = m.firstOfGroup.get(f.link!)!.path;
    await link(join(m.staging, first), join(m.staging, f.path)).catch((err) => {
      throw ChunkswarmError.fromSystem(err, `linking ${f.path}`);
    });
    if (done.has(first)) done.add(f.path);
  }
  await placeSymlinks(m.scan.root, m.staging);
  return done;
}

async function placeSymlinks(dir: ScannedDir, staging: string): Promise<void> {
  for (const c of dir.children) {
    if (c.type === 'dir') await placeSymlinks(c, staging);
    else if (c.type === 'symlink') {
      await symlink(c.target, join(staging, c.path)).catch((err) => {
        throw ChunkswarmError.fromSystem(err, `creating symlink ${c.path}`);
      });
    }
  }
}
