import { ChunkswarmError, type ObjectHash } from '../core/index.js';
import { distinctChunks, groupPieces, releasePieces, walkTree, type ChunkRef, type FileObject, type Piece, type TreeEntry } from '../manifest/index.js';
import type { ObjectStore } from '../store/index.js';

/** Linux PATH_MAX, terminating NUL included. */
const PATH_MAX = 4096;

/** An entry of a release, by its path relative to the release root. */
export interface ReleaseEntry {
  path: string;
  entry: TreeEntry;
}

/** A regular file of a release, with its size. */
export interface SizedEntry extends ReleaseEntry {
  size: number;
}

/** A regular file of a release with its content object. */
export interface ReleaseFile extends SizedEntry {
  file: FileObject;
}

/** Everything materializing and transferring a release needs, from its objects; all in canonical walk order. */
export interface ReleaseContent {
  root: ObjectHash;
  /** Directories, parents before children. */
  dirs: ReleaseEntry[];
  symlinks: ReleaseEntry[];
  files: ReleaseFile[];
  /** Every distinct chunk once, at its first occurrence: the pieces, concatenated. */
  chunks: ChunkRef[];
  pieces: Piece[];
}

/** A release's entries by kind, from its tree objects alone. */
export interface ReleaseTree {
  root: ObjectHash;
  dirs: ReleaseEntry[];
  symlinks: ReleaseEntry[];
  files: ReleaseEntry[];
}

/**
 * Lists a release's entries from its tree objects (which must be local). `base` is where it will
 * be written: a path that would not fit in PATH_MAX there is refused up front rather than failing
 * half-way with ENAMETOOLONG.
 */
export async function releaseTree(root: ObjectHash, objects: ObjectStore, base: string): Promise<ReleaseTree> {
  const out: ReleaseTree = { root, dirs: [], symlinks: [], files: [] };
  const baseBytes = Buffer.byteLength(base) + 1;
  await walkTree(root, (h) => objects.getTree(h), (path, entry) => {
    if (baseBytes + Buffer.byteLength(path) >= PATH_MAX) {
      throw ChunkswarmError.unsafePath(path.slice(0, 200) + '…', `the path is longer than PATH_MAX (${PATH_MAX} bytes) under ${base}`);
    }
    (entry.type === 'dir' ? out.dirs : entry.type === 'symlink' ? out.symlinks : out.files).push({ path, entry });
  });
  return out;
}

/**
 * The pack of a release's tree objects (its file objects' pack is named by the root alone): a
 * quick `verify` needs only the trees, and reading them from one file spares it a scan of every
 * object journal (which grow with each release) and a read per tree.
 */
export function treePackName(root: ObjectHash): string {
  return `${root}.trees`;
}

/**
 * Reads a release's file objects into memory from its pack (one file instead of one per object),
 * or, when it has none yet, from the pack of `like`, a release likely to share most of them (the
 * live one).
 */
export function loadPacks(objects: ObjectStore, root: ObjectHash, like: ObjectHash | null): void {
  if (objects.loadPack(root) === null && like !== null) objects.loadPack(like);
}

/**
 * The pieces of a release served whole without being staged (a node started again, the
 * publisher's own publish): its objects from its packs where it has them, else as they are (in
 * memory or one read each). Whether it had its packs tells the caller to make them
 * (saveReleasePacks) once it serves.
 */
export async function servedPieces(objects: ObjectStore, root: ObjectHash): Promise<{ pieces: Piece[]; packed: boolean }> {
  // Both loaded whatever the other gives: trees from their pack even when the files' is missing.
  const files = objects.loadPack(root) !== null;
  const trees = objects.loadPack(treePackName(root)) !== null;
  return { pieces: await releasePieces(root, (h) => objects.getTree(h), (h) => objects.getFile(h)), packed: files && trees };
}

/**
 * Writes the packs of a release whose objects are all in memory (servedPieces just walked them),
 * copying the records it shares with `like`'s packs.
 */
export async function saveReleasePacks(objects: ObjectStore, root: ObjectHash, like: ObjectHash | null): Promise<void> {
  const files: ObjectHash[] = [];
  const dirs: ObjectHash[] = [];
  await walkTree(root, (h) => objects.getTree(h), (_path, e) => void (e.type === 'dir' ? dirs : e.type === 'file' ? files : []).push(e.hash!));
  await writePacks(objects, root, files, dirs, like);
}

/**
 * A release's two packs, its file objects' and its tree objects', from the objects in memory;
 * the records `like`'s packs hold are copied rather than encoded again. A pack that exists is
 * left as it is (savePack).
 */
async function writePacks(objects: ObjectStore, root: ObjectHash, files: ObjectHash[], dirs: ObjectHash[], like: ObjectHash | null): Promise<void> {
  await objects.savePack(root, files, like);
  await objects.savePack(treePackName(root), [root, ...dirs], like === null ? null : treePackName(like));
}

/**
 * A release's entries with every file object, its chunks and its pieces (objects must all be
 * local). Its file objects come from the packs (loadPacks; `like`: a release whose packs hold most
 * of them), and its own packs are made if it has none, unless `savePacks` is false: the caller
 * saves them later (saveReleasePacks).
 */
export async function loadRelease(
  root: ObjectHash,
  objects: ObjectStore,
  base: string,
  o: { like?: ObjectHash | null; savePacks?: boolean } = {},
): Promise<ReleaseContent> {
  const { like = null, savePacks = true } = o;
  loadPacks(objects, root, like);
  const tree = await releaseTree(root, objects, base);
  const files: ReleaseFile[] = [];
  // Not a spread: V8 gave each of 10^5 spread copies a hidden class of its own (~180 bytes each).
  for (const f of tree.files) {
    const file = await objects.getFile(f.entry.hash!);
    files.push({ path: f.path, entry: f.entry, size: file.size, file });
  }
  // Every tree and file object is in memory after the walk.
  if (savePacks) await writePacks(objects, root, tree.files.map((f) => f.entry.hash!), tree.dirs.map((d) => d.entry.hash!), like);
  // The one definition of the piece space (releaseChunks' too), over the file objects now in hand.
  const chunks = distinctChunks(files);
  return { ...tree, files, chunks, pieces: groupPieces(chunks) };
}
