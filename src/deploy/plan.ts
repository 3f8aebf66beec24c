import { ChunkswarmError } from '../core/index.js';
import type { ChunkRef, FileObject, TreeEntry } from '../manifest/index.js';

/** A regular file of the release being staged, in canonical walk order. */
export interface PlanFile {
  path: string;
  entry: TreeEntry;
  file: FileObject;
}

/** A file of a retained release that was checked clean and may lend its inode. */
export interface LinkCandidate {
  /** Absolute path. */
  path: string;
  entry: TreeEntry;
  /** "dev:ino" (see inodeKey). */
  inode: string;
}

export interface PlanInput {
  files: readonly PlanFile[];
  /** The release's pieces (releasePieces order). */
  pieces: readonly ChunkRef[];
  /** By file object hash, preferred first (e.g. the live release's file at the same path). */
  candidates: ReadonlyMap<string, readonly LinkCandidate[]>;
  /** Inodes of drifted files: never linked, whatever else says they are clean. */
  tainted: ReadonlySet<string>;
  /** Whether a clean local file holds the chunk. */
  hasLocal(hash: string): boolean;
}

/** Where one occurrence of a chunk lies in the staged release (path relative to its root). */
export interface ChunkSlot {
  path: string;
  offset: number;
}

export type FileAction =
  | { kind: 'link'; path: string; entry: TreeEntry; file: FileObject; from: string; inode: string }
  | { kind: 'alias'; path: string; entry: TreeEntry; file: FileObject; of: string }
  | { kind: 'assemble'; path: string; entry: TreeEntry; file: FileObject };

export interface StagePlan {
  files: FileAction[];
  /** Per piece: every slot of an assembled file to write it at (empty: only linked files hold it). */
  writes: ChunkSlot[][];
  /** Per piece: a slot in a linked file holding it, or null. */
  linkedAt: Array<ChunkSlot | null>;
  /** Pieces to write that a local clean file holds. */
  local: number[];
  /** Pieces to write that must come from the network. */
  fetch: number[];
  bytes: { linked: number; local: number; fetch: number };
}

function sameMeta(a: TreeEntry, b: TreeEntry): boolean {
  return a.mode === b.mode && a.mtime === b.mtime && a.uid === b.uid && a.gid === b.gid;
}

/**
 * Decides, for every file of a release, whether an existing inode can serve it as it is (link), it
 * shares the inode of an earlier path of its hard-link group (alias), or it must be written chunk
 * by chunk (assemble); and for every piece, whether its bytes are local or must be fetched. Pure.
 */
export function planStage(input: PlanInput): StagePlan {
  const pieceOf = new Map<string, number>();
  input.pieces.forEach((p, i) => pieceOf.set(p.hash, i));
  const writes: ChunkSlot[][] = input.pieces.map(() => []);
  const linkedAt: Array<ChunkSlot | null> = input.pieces.map(() => null);
  const files: FileAction[] = [];
  const leaders = new Map<number, PlanFile>();
  const usedInodes = new Set<string>();
  let linkedBytes = 0;

  const place = (f: PlanFile, linked: boolean) => {
    let offset = 0;
    for (const c of f.file.chunks) {
      const piece = pieceOf.get(c.hash);
      if (piece === undefined) throw ChunkswarmError.badObject(`${f.path}: chunk ${c.hash} is not among the release's pieces`);
      if (linked) linkedAt[piece] ??= { path: f.path, offset };
      else writes[piece]!.push({ path: f.path, offset });
      offset += c.size;
    }
  };

  for (const f of input.files) {
    const { path, entry, file } = f;
    if (entry.link !== undefined) {
      const leader = leaders.get(entry.link);
      if (leader) {
        if (leader.entry.hash !== entry.hash || !sameMeta(leader.entry, entry)) {
          throw ChunkswarmError.badObject(
            `hard-link group ${entry.link} joins ${leader.path} and ${path}, which differ in content or metadata: one inode cannot be both`,
          );
        }
        files.push({ kind: 'alias', path, entry, file, of: leader.path });
        continue;
      }
      leaders.set(entry.link, f);
    }
    const donor = (input.candidates.get(entry.hash!) ?? []).find(
      (c) => c.entry.hash === entry.hash && sameMeta(c.entry, entry) && !input.tainted.has(c.inode) && !usedInodes.has(c.inode),
    );
    if (donor) {
      // One inode per path (or link group): two separate files of a release must stay separate.
      usedInodes.add(donor.inode);
      files.push({ kind: 'link', path, entry, file, from: donor.path, inode: donor.inode });
      linkedBytes += file.size;
      place(f, true);
    } else {
      files.push({ kind: 'assemble', path, entry, file });
      place(f, false);
    }
  }

  const local: number[] = [];
  const fetch: number[] = [];
  let localBytes = 0;
  let fetchBytes = 0;
  input.pieces.forEach((p, i) => {
    if (writes[i]!.length === 0) return;
    if (linkedAt[i] !== null || input.hasLocal(p.hash)) {
      local.push(i);
      localBytes += p.size;
    } else {
      fetch.push(i);
      fetchBytes += p.size;
    }
  });
  return { files, writes, linkedAt, local, fetch, bytes: { linked: linkedBytes, local: localBytes, fetch: fetchBytes } };
}
