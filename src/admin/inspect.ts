import { ChunkswarmError } from '../core/index.js';
import type { Config } from '../config/index.js';
import { diffTrees, releaseId, releasePieces, walkTree, type TreeChange } from '../manifest/index.js';
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
  /** Distinct chunks: the release's pieces. */
  pieces: number;
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

export async function showRelease(config: Config, version?: number): Promise<{ summary: ReleaseSummary; tree: TreeListing[] }> {
  const { releases, objects } = open(config);
  const head = version === undefined ? await releases.latest() : await releases.head(version);
  if (!head) throw new ChunkswarmError('E_NOT_FOUND', 'no release has been published or received yet');
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
  const pieces = await releasePieces(head.body.root, (h) => objects.getTree(h), (h) => objects.getFile(h));
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
      pieces: pieces.length,
      pieceBytes: pieces.reduce((n, p) => n + p.size, 0),
      materialized,
    },
    tree,
  };
}

export async function diffReleases(config: Config, from: number, to: number): Promise<TreeChange[]> {
  const { releases, objects } = open(config);
  const [a, b] = await Promise.all([releases.head(from), releases.head(to)]);
  return diffTrees(a.body.root, b.body.root, (h) => objects.getTree(h));
}
