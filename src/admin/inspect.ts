import { ChunkswarmError, isChunkswarmError } from '../core/index.js';
import { objectsKeptNote } from '../deploy/index.js';
import type { Config } from '../config/index.js';
import { diffTrees, groupPieces, releaseChunks, releaseId, walkTree, type SignedRelease, type TreeChange } from '../manifest/index.js';
import { ObjectStore, ReleaseStore } from '../store/index.js';

export interface ReleaseSummary {
  version: number;
  releaseId: string;
  parent: string | null;
  root: string;
  created: string;
  note: string;
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  /** Distinct chunks (the unit of dedup and verification), and the pieces (runs of them) they travel in. */
  chunks: number;
  pieces: number;
  /** Bytes of the distinct chunks: what a node holding none of them fetches. */
  pieceBytes: number;
  materialized: boolean;
}

export interface TreeListing {
  path: string;
  type: string;
  mode: string;
  size: number;
  target?: string;
}

function open(config: Config) {
  const releases = new ReleaseStore(config.dataDir);
  return { releases, objects: new ObjectStore(releases.objectsDir) };
}

/** `work` on the objects of these releases; a missing one is named with why it may be missing. */
async function withObjects<T>(config: Config, versions: number[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isChunkswarmError(err, 'E_NOT_FOUND')) throw err;
    throw new ChunkswarmError(
      'E_NOT_FOUND',
      `the objects of release ${versions.join(' or ')} are not all on this node (${err.message}): a node holds those of the releases it fetched, ` +
        `and ${objectsKeptNote(config.releases.keep)}`,
      { cause: err },
    );
  }
}

export async function showRelease(config: Config, version?: number): Promise<{ summary: ReleaseSummary; tree: TreeListing[] }> {
  const { releases, objects } = open(config);
  const head = version === undefined ? await releases.latest() : await releases.head(version);
  if (!head) throw new ChunkswarmError('E_NOT_FOUND', 'no release has been published or received yet');
  return withObjects(config, [head.body.version], () => summarize(releases, objects, head));
}

async function summarize(releases: ReleaseStore, objects: ObjectStore, head: SignedRelease): Promise<{ summary: ReleaseSummary; tree: TreeListing[] }> {
  const tree: TreeListing[] = [];
  let files = 0;
  let dirs = 0;
  let symlinks = 0;
  let bytes = 0;
  await walkTree(head.body.root, (h) => objects.getTree(h), async (path, e) => {
    let size = 0;
    if (e.type === 'file') {
      files++;
      size = (await objects.getFile(e.hash!)).size;
      bytes += size;
    } else if (e.type === 'dir') dirs++;
    else symlinks++;
    tree.push({ path, type: e.type, mode: e.mode.toString(8).padStart(4, '0'), size, ...(e.target !== undefined ? { target: e.target } : {}) });
  });
  const chunks = await releaseChunks(head.body.root, (h) => objects.getTree(h), (h) => objects.getFile(h));
  const materialized = (await releases.materialized()).includes(head.body.version);
  return {
    summary: {
      version: head.body.version,
      releaseId: releaseId(head.body),
      parent: head.body.parent,
      root: head.body.root,
      created: new Date(head.body.created).toISOString(),
      note: head.body.note,
      files,
      dirs,
      symlinks,
      bytes,
      chunks: chunks.length,
      pieces: groupPieces(chunks).length,
      pieceBytes: chunks.reduce((n, c) => n + c.size, 0),
      materialized,
    },
    tree,
  };
}

export async function diffReleases(config: Config, from: number, to: number): Promise<TreeChange[]> {
  const { releases, objects } = open(config);
  const [a, b] = await Promise.all([releases.head(from), releases.head(to)]);
  return withObjects(config, [from, to], () => diffTrees(a.body.root, b.body.root, (h) => objects.getTree(h)));
}
