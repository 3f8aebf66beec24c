import { ChunkswarmError } from '../core/index.js';
import type { ChunkRef, FileObject, Piece, TreeEntry } from '../manifest/index.js';
import type { ReleaseEntry } from './release-files.js';

/** A file of a retained release found clean, with the content and metadata a path of the new release needs. */
export interface Donor {
  /** Absolute path. */
  path: string;
  /** "dev:ino" (see inodeKey). */
  inode: string;
}

/**
 * What becomes of each regular file of a release: the inode of a donor as it is (link), the
 * inode of an earlier path of its in-tree hard-link group (alias), or a new inode whose bytes are
 * written (write). Paths are relative to the release root.
 */
export type FileAction =
  | { kind: 'link'; path: string; entry: TreeEntry; from: string; inode: string }
  | { kind: 'alias'; path: string; entry: TreeEntry; of: string }
  | { kind: 'write'; path: string; entry: TreeEntry };

function sameMeta(a: TreeEntry, b: TreeEntry): boolean {
  return a.mode === b.mode && a.mtime === b.mtime && a.uid === b.uid && a.gid === b.gid;
}

/**
 * Decides every file's action, in canonical order. `donors` are by path and already known clean;
 * one inode serves one path (or one hard-link group): two separate files of a release stay
 * separate. Pure.
 */
export function planFiles(files: readonly ReleaseEntry[], donors: ReadonlyMap<string, Donor>): FileAction[] {
  const actions: FileAction[] = [];
  const leaders = new Map<number, ReleaseEntry>();
  const used = new Set<string>();
  for (const { path, entry } of files) {
    if (entry.link !== undefined) {
      const leader = leaders.get(entry.link);
      if (leader) {
        if (leader.entry.hash !== entry.hash || !sameMeta(leader.entry, entry)) {
          throw ChunkswarmError.badObject(
            `hard-link group ${entry.link} joins ${leader.path} and ${path}, which differ in content or metadata: one inode cannot be both`,
          );
        }
        actions.push({ kind: 'alias', path, entry, of: leader.path });
        continue;
      }
      leaders.set(entry.link, { path, entry });
    }
    const donor = donors.get(path);
    if (donor && !used.has(donor.inode)) {
      used.add(donor.inode);
      actions.push({ kind: 'link', path, entry, from: donor.path, inode: donor.inode });
    } else {
      actions.push({ kind: 'write', path, entry });
    }
  }
  return actions;
}

/** Where one occurrence of a chunk lies: a path relative to the tree being built, or an absolute one for a local source. */
export interface ChunkSlot {
  path: string;
  offset: number;
}

/** 'done': nothing to write (every chunk lies in a linked file); 'local': every chunk to write is on this node; 'fetch'. */
export type PieceState = 'done' | 'local' | 'fetch';

/** The release's pieces laid over its files. Arrays of chunks are indexed by the chunk's ordinal in release order. */
export interface PieceLayout {
  /** Ordinal of each piece's first chunk (a piece's chunks are consecutive). */
  first: number[];
  /** Per chunk: every slot of a written file to put it at. */
  writes: ReadonlyArray<readonly ChunkSlot[]>;
  /** Per chunk: a slot of a linked file holding it, or null. */
  linked: ReadonlyArray<ChunkSlot | null>;
  /** Per chunk: a clean file outside the tree holding it (absolute path), or null. */
  local: ReadonlyArray<ChunkSlot | null>;
  state: PieceState[];
}

export interface LayoutInput {
  actions: readonly FileAction[];
  /** Content of every file object the actions name, by file object hash. */
  files: ReadonlyMap<string, FileObject>;
  /** The release's distinct chunks in order, and its pieces over them. */
  chunks: readonly ChunkRef[];
  pieces: readonly Piece[];
  /** Clean local files outside the tree holding a chunk, by chunk hash. */
  local: ReadonlyMap<string, ChunkSlot>;
}

/** Places every chunk of the release and says, per piece, where its bytes will come from. Pure. */
export function layoutPieces(input: LayoutInput): PieceLayout {
  const ordinal = new Map<string, number>();
  input.chunks.forEach((c, i) => ordinal.set(c.hash, i));
  const writes: ChunkSlot[][] = input.chunks.map(() => []);
  const linked: Array<ChunkSlot | null> = input.chunks.map(() => null);
  for (const a of input.actions) {
    if (a.kind === 'alias') continue;
    const file = input.files.get(a.entry.hash!);
    if (!file) throw ChunkswarmError.badObject(`${a.path}: file object ${a.entry.hash} is not loaded`);
    let offset = 0;
    for (const c of file.chunks) {
      const k = ordinal.get(c.hash);
      if (k === undefined) throw ChunkswarmError.badObject(`${a.path}: chunk ${c.hash} is not among the release's chunks`);
      if (a.kind === 'link') linked[k] ??= { path: a.path, offset };
      else writes[k]!.push({ path: a.path, offset });
      offset += c.size;
    }
  }
  const local = input.chunks.map((c) => input.local.get(c.hash) ?? null);
  const first: number[] = [];
  const state: PieceState[] = [];
  let k = 0;
  for (const p of input.pieces) {
    first.push(k);
    let needsWrite = false;
    let allLocal = true;
    for (let j = k; j < k + p.chunks.length; j++) {
      if (writes[j]!.length === 0) continue;
      needsWrite = true;
      if (linked[j] === null && local[j] === null) allLocal = false;
    }
    state.push(!needsWrite ? 'done' : allLocal ? 'local' : 'fetch');
    k += p.chunks.length;
  }
  if (k !== input.chunks.length) throw ChunkswarmError.badObject(`the pieces cover ${k} chunks, the release has ${input.chunks.length}`);
  return { first, writes, linked, local, state };
}
