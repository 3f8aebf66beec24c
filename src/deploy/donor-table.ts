import { inodeId, inodeKey, type InodeStat } from '../store/index.js';

/** What a donor is found for: a file of the release, by its path relative to the release root. */
interface Named {
  readonly path: string;
}

/** The parts of an inode's state a donor is recorded with; size and mtime are unknown for a donor taken on another check's word. */
export type DonorState = Pick<InodeStat, 'dev' | 'ino'> & Partial<Pick<InodeStat, 'size' | 'mtimeMs'>>;

/**
 * The clean files that may lend their inode to the files of a release, by the file's position in
 * the release's file list (canonical order): the directory the donor is in, its path there (the
 * file's own path unless it was found by content elsewhere), and the state of its inode when it
 * was found clean. A release of 10^5 files has ~10^5 donors in an update: as a map of paths to
 * objects holding an absolute path, an inode name and five boxed numbers, they were ~45 MB of a
 * follower's heap at 100,000 files, at the peak of its staging; here they are ~40 bytes each.
 */
export class DonorTable {
  /** Index into `dirs`, -1: no donor. */
  private readonly dir: Int32Array;
  private readonly dev: Float64Array;
  private readonly ino: Float64Array;
  private readonly bytes: Float64Array;
  private readonly mtime: Float64Array;
  /** 1: the donor is another path than the file's own, and must be linked there. */
  private readonly linked: Uint8Array;
  private readonly dirs: string[] = [];
  private readonly dirIndex = new Map<string, number>();
  /** Donor paths (relative to their directory) that are not the file's own path. */
  private readonly elsewhere = new Map<number, string>();

  constructor(private readonly files: readonly Named[]) {
    const n = files.length;
    this.dir = new Int32Array(n).fill(-1);
    this.dev = new Float64Array(n);
    this.ino = new Float64Array(n);
    this.bytes = new Float64Array(n);
    this.mtime = new Float64Array(n);
    this.linked = new Uint8Array(n);
  }

  /**
   * File i's donor: `${dir}/${path}` (path: the file's own by default), in state `st`. `linked`:
   * false for a file that is its own donor (the tree being built holds it already).
   */
  set(i: number, dir: string, st: DonorState, o: { path?: string; linked: boolean }): void {
    let d = this.dirIndex.get(dir);
    if (d === undefined) {
      d = this.dirs.push(dir) - 1;
      this.dirIndex.set(dir, d);
    }
    this.dir[i] = d;
    this.dev[i] = st.dev;
    this.ino[i] = st.ino;
    this.bytes[i] = st.size ?? NaN;
    this.mtime[i] = st.mtimeMs ?? NaN;
    this.linked[i] = o.linked ? 1 : 0;
    if (o.path !== undefined && o.path !== this.files[i]!.path) this.elsewhere.set(i, o.path);
    else this.elsewhere.delete(i);
  }

  has(i: number): boolean {
    return this.dir[i]! >= 0;
  }

  /** The donor's absolute path. */
  from(i: number): string {
    return `${this.dirs[this.dir[i]!]}/${this.elsewhere.get(i) ?? this.files[i]!.path}`;
  }

  /** The donor's inode, "dev:ino" (see inodeKey). */
  inode(i: number): string {
    return inodeKey({ dev: this.dev[i]!, ino: this.ino[i]! });
  }

  /** The donor's device and inode numbers. */
  inodeOf(i: number): { dev: number; ino: number } {
    return { dev: this.dev[i]!, ino: this.ino[i]! };
  }

  /** The donor's inode as inodeId keys it. */
  inodeId(i: number): number | string {
    return inodeId({ dev: this.dev[i]!, ino: this.ino[i]! });
  }

  /** Whether the donor must be linked into the tree (it is not already the file at that path). */
  mustLink(i: number): boolean {
    return this.linked[i] === 1;
  }

  /** Whether `st` is the donor's inode in the state it was found clean in (an edit since moves size or mtime). */
  unchanged(i: number, st: InodeStat): boolean {
    return st.dev === this.dev[i] && st.ino === this.ino[i] && st.size === this.bytes[i] && st.mtimeMs === this.mtime[i];
  }
}
