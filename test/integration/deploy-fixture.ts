import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli, type CliResult } from '../support/cli.js';
import { makeSampleTree } from '../support/tree.js';
import { ObjectStore, ReleaseStore } from '../../src/store/index.js';
import { encodeObject, hashFile, objectHash, walkTree, type TreeEntry } from '../../src/manifest/index.js';

/** A publisher and a follower (init --join) under one directory, driven through the real CLI. */
export interface Cluster {
  dir: string;
  pub: string;
  fol: string;
  pubData: string;
  folData: string;
  folLive: string;
}

export async function makeCluster(dir: string, opts: { follower?: boolean } = {}): Promise<Cluster> {
  const c: Cluster = {
    dir,
    pub: join(dir, 'pub', 'swarm.config.json'),
    fol: join(dir, 'fol', 'swarm.config.json'),
    pubData: join(dir, 'pub', 'data'),
    folData: join(dir, 'fol', 'data'),
    folLive: join(dir, 'fol', 'live'),
  };
  ok(await runCli(['init', '--dir', join(dir, 'pub'), '--publisher']));
  if (opts.follower !== false) ok(await runCli(['init', '--dir', join(dir, 'fol'), '--join', c.pub]));
  return c;
}

/**
 * A fresh temp dir with the sample tree in `src`, a publisher and a follower, and release 1
 * published; `activated` also makes it live on the follower (from the publisher's data dir).
 */
export async function publishedCluster(prefix: string, o: { activated?: boolean } = {}): Promise<{ dir: string; src: string; c: Cluster }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const src = join(dir, 'src');
  await makeSampleTree(src);
  const c = await makeCluster(dir);
  ok(await cs(c.pub, 'publish', src));
  if (o.activated) ok(await cs(c.fol, 'activate', '1', '--source-data', c.pubData));
  return { dir, src, c };
}

export function ok(r: CliResult): CliResult {
  expect(r.code, `exit ${r.code}\n${r.stderr}`).toBe(0);
  return r;
}

export function cs(config: string, ...args: string[]): Promise<CliResult> {
  return runCli(['-c', config, ...args]);
}

export async function csJson<T>(config: string, ...args: string[]): Promise<T> {
  return JSON.parse(ok(await cs(config, ...args, '--json')).stdout) as T;
}

export async function editConfig(path: string, patch: (c: Record<string, any>) => void): Promise<void> {
  const c = JSON.parse(await readFile(path, 'utf8')) as Record<string, any>;
  patch(c);
  await writeFile(path, JSON.stringify(c, null, 2));
}

/** path -> entry of a stored release, read from a node's own objects. */
export async function releaseEntries(dataDir: string, version: number): Promise<Map<string, TreeEntry>> {
  const releases = new ReleaseStore(dataDir);
  const objects = new ObjectStore(releases.objectsDir);
  const out = new Map<string, TreeEntry>();
  await walkTree((await releases.head(version)).body.root, (h) => objects.getTree(h), (p, e) => void out.set(p, e));
  return out;
}

/** The file object hash of a file's current content, as verify and drift reports name it. */
export async function contentHash(path: string): Promise<string> {
  return objectHash(encodeObject(await hashFile(path)));
}
