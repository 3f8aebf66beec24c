import { ChunkswarmError } from '../core/index.js';
import type { ChunkRef, FileObject, Piece, PieceRange, TreeEntry } from '../manifest/index.js';
import type { InodeStat } from '../store/index.js';
import type { DonorTable } from './donor-table.js';
import type { ReleaseEntry, SizedEntry } from './release-files.js';

/**
 * A file that becomes a hard link of a donor's inode. Where the donor is and the state it was
 * found in stay in the donor table (an update of 10^5 files links ~10^5 of them): read through it.
 */
export class LinkAction {
  readonly kind = 'link' as const;

  constructor(
    readonly path: string,
    readonly entry: TreeEntry,
    private readonly donors: DonorTable,
    private readonly donor: number,
  ) {}

  /** The donor's absolute path. */
  get from(): string {
    return this.donors.from(this.donor);
  }

  /** The donor's inode, "dev:ino". */
  get inode(): string {
    return this.donors.inode(this.donor);
  }

  /** The donor's device and inode numbers. */
  get inodeNumbers(): { dev: number; ino: number } {
    return this.donors.inodeOf(this.donor);
  }

  /** The donor's inode as inodeId keys it. */
  get inodeId(): number | string {
    return this.donors.inodeId(this.donor);
  }

  /** The donor is the file already at this path of the tree being built: nothing to link. */
  get inPlace(): boolean {
    return !this.donors.mustLink(this.donor);
  }

  /** Whether `st` is the donor's inode still in the state it was found clean in. */
  unchanged(st: InodeStat): boolean {
    return this.donors.unchanged(this.donor, st);
  }
}

/**
 * What becomes of each regular file of a release: the inode of a donor as it is (link), the
 * inode of an earlier path of its in-tree hard-link group (alias), or a new inode whose bytes are
 * written (write). Paths are relative to the release root.
 */
export type FileAction =
  | LinkAction
  | { kind: 'alias'; path: string; entry: TreeEntry; of: string }
  | { kind: 'write'; path: string; entry: TreeEntry; size: number };

function sameMeta(a: TreeEntry, b: TreeEntry): boolean {
  return a.mode === b.mode && a.mtime === b.mtime && a.uid === b.uid && a.gid === b.gid;
}

/**
 * Decides every file's action, in canonical order. `donors` are by position in `files` and
 * already known clean; one inode serves one path (or one hard-link group): two separate files of
 * a release stay separate. Pure.
 */
export function planFiles(files: readonly SizedEntry[], donors: DonorTable): FileAction[] {
  const actions: FileAction[] = [];
  const leaders = new Map<number, ReleaseEntry>();
  const used = new Set<number | string>();
  for (let i = 0; i < files.length; i++) {
    const { path, entry, size } = files[i]!;
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
    const inode = donors.has(i) ? donors.inodeId(i) : null;
    if (inode !== null && !used.has(inode)) {
      used.add(inode);
      actions.push(new LinkAction(path, entry, donors, i));
    } else {
      actions.push({ kind: 'write', path, entry, size });
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

const STATES: readonly PieceState[] = ['done', 'local', 'fetch'];

/**
 * The release's pieces laid over its files: for each chunk (by its ordinal in release order),
 * every slot of a written file to put it at, a slot of a linked file holding it, a clean local
 * file outside the tree holding it. A value, kept in typed arrays: a release of 10^5 files has
 * 10^5 chunks, and an object per slot would weigh tens of MB in a node that serves it for days.
 */
export class PieceLayout {
  private constructor(
    /** Ordinal of each piece's first chunk (a piece's chunks are consecutive); one more entry at the end. */
    private readonly firsts: Int32Array,
    private readonly states: Uint8Array,
    /** Paths of the tree's files, referred to by index. */
    private readonly paths: readonly string[],
    /** Written slots of chunk k: entries writeStart[k] .. writeStart[k+1] of writeFile/writeOffset. */
    private readonly writeStart: Int32Array,
    private readonly writeFile: Int32Array,
    private readonly writeOffset: Float64Array,
    /** A linked file holding chunk k (index into paths, -1: none), and where. */
    private readonly linkedFile: Int32Array,
    private readonly linkedOffset: Float64Array,
    private readonly locals: ReadonlyMap<number, ChunkSlot>,
  ) {}

  static build(input: LayoutInput): PieceLayout {
    const ordinal = new Map<string, number>();
    input.chunks.forEach((c, i) => ordinal.set(c.hash, i));
    const n = input.chunks.length;
    // The actions that have an inode of their own: aliases share their leader's.
    const files: number[] = [];
    input.actions.forEach((a, i) => {
      if (a.kind !== 'alias') files.push(i);
    });
    const objectOf = (i: number): FileObject => {
      const a = input.actions[i]!;
      const f = input.files[i];
      if (f?.entry !== a.entry) throw ChunkswarmError.badObject(`${a.path}: its file object is not loaded`);
      return f.file;
    };
    const ordinalOf = (i: number, hash: string): number => {
      const k = ordinal.get(hash);
      if (k === undefined) throw ChunkswarmError.badObject(`${input.actions[i]!.path}: chunk ${hash} is not among the release's chunks`);
      return k;
    };
    // Two passes over the written files: count the slots of each chunk, then place them. Nothing
    // per chunk is kept between them: at 10^5 files that was 10^5 arrays at the peak of a staging.
    const writeStart = new Int32Array(n + 1);
    for (const i of files) {
      if (input.actions[i]!.kind === 'write') for (const c of objectOf(i).chunks) writeStart[ordinalOf(i, c.hash) + 1]!++;
    }
    for (let k = 0; k < n; k++) writeStart[k + 1]! += writeStart[k]!;
    const total = writeStart[n]!;
    const writeFile = new Int32Array(total);
    const writeOffset = new Float64Array(total);
    const fill = writeStart.slice(0, n);
    const linkedFile = new Int32Array(n).fill(-1);
    const linkedOffset = new Float64Array(n);
    files.forEach((i, f) => {
      const write = input.actions[i]!.kind === 'write';
      let offset = 0;
      for (const c of objectOf(i).chunks) {
        const k = ordinalOf(i, c.hash);
        if (write) {
          writeFile[fill[k]!] = f;
          writeOffset[fill[k]!++] = offset;
        } else if (linkedFile[k] === -1) {
          linkedFile[k] = f;
          linkedOffset[k] = offset;
        }
        offset += c.size;
      }
    });
    const locals = new Map<number, ChunkSlot>();
    input.chunks.forEach((c, k) => {
      const slot = input.local.get(c.hash);
      if (slot) locals.set(k, slot);
    });
    const firsts = new Int32Array(input.pieces.length + 1);
    const states = new Uint8Array(input.pieces.length);
    let k = 0;
    input.pieces.forEach((p, i) => {
      firsts[i] = k;
      let needsWrite = false;
      let allLocal = true;
      for (let j = k; j < k + p.chunks.length; j++) {
        if (writeStart[j + 1] === writeStart[j]) continue;
        needsWrite = true;
        if (linkedFile[j] === -1 && !locals.has(j)) allLocal = false;
      }
      states[i] = !needsWrite ? 0 : allLocal ? 1 : 2;
      k += p.chunks.length;
    });
    firsts[input.pieces.length] = k;
    if (k !== n) throw ChunkswarmError.badObject(`the pieces cover ${k} chunks, the release has ${n}`);
    return new PieceLayout(firsts, states, files.map((i) => input.actions[i]!.path), writeStart, writeFile, writeOffset, linkedFile, linkedOffset, locals);
  }

  /** Ordinal of piece i's first chunk. */
  first(i: number): number {
    return this.firsts[i]!;
  }

  state(i: number): PieceState {
    return STATES[this.states[i]!]!;
  }

  /** Every slot of a written file where chunk k goes (paths relative to the tree). */
  writes(k: number): ChunkSlot[] {
    const out: ChunkSlot[] = [];
    for (let s = this.writeStart[k]!; s < this.writeStart[k + 1]!; s++) out.push({ path: this.paths[this.writeFile[s]!]!, offset: this.writeOffset[s]! });
    return out;
  }

  hasWrites(k: number): boolean {
    return this.writeStart[k + 1]! > this.writeStart[k]!;
  }

  /** A slot of a linked file of the tree holding chunk k, or null. */
  linked(k: number): ChunkSlot | null {
    const f = this.linkedFile[k]!;
    return f < 0 ? null : { path: this.paths[f]!, offset: this.linkedOffset[k]! };
  }

  /**
   * The bytes of piece i (given, as the layout keeps no sizes) that only the network has: from the
   * first to the last chunk that is written into the tree and that no file of this node holds (a
   * linked file of the tree, or a clean one outside it). Null if there is none.
   */
  networkSpan(i: number, piece: Piece): PieceRange | null {
    let from = -1;
    let to = 0;
    let at = 0;
    for (let j = 0; j < piece.chunks.length; j++) {
      const k = this.firsts[i]! + j;
      const size = piece.chunks[j]!.size;
      if (this.hasWrites(k) && this.linkedFile[k] === -1 && !this.locals.has(k)) {
        if (from < 0) from = at;
        to = at + size;
      }
      at += size;
    }
    return from < 0 ? null : { offset: from, length: to - from };
  }

  /** A clean file outside the tree holding chunk k (absolute path), or null. */
  local(k: number): ChunkSlot | null {
    return this.locals.get(k) ?? null;
  }
}

export interface LayoutInput {
  actions: readonly FileAction[];
  /** The file each action is for, with its content, by the action's position (planFiles keeps the order). */
  files: readonly { entry: TreeEntry; file: FileObject }[];
  /** The release's distinct chunks in order, and its pieces over them. */
  chunks: readonly ChunkRef[];
  pieces: readonly Piece[];
  /** Clean local files outside the tree holding a chunk, by chunk hash. */
  local: ReadonlyMap<string, ChunkSlot>;
}

/** Places every chunk of the release and says, per piece, where its bytes will come from. Pure. */
export function layoutPieces(input: LayoutInput): PieceLayout {
  return PieceLayout.build(input);
}
