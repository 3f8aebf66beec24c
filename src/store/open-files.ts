import { closeSync, openSync } from 'node:fs';

/** A cached descriptor; `inode` is for a caller that checks it per read ("dev:ino", filled once). */
export interface OpenFile {
  readonly fd: number;
  inode?: string;
}

/**
 * Descriptors kept open across the reads or writes of one file, least recently used closed first.
 * A piece is ~128 KiB of a release's chunks: opening, checking and closing each file per piece
 * cost the data path a third as much as the bytes themselves (bench/transfer profile: open, fstat,
 * close per piece on both sides). A descriptor follows its inode, not its path: a user of this
 * cache must drop a path (or all) whenever the file at that path may be replaced.
 */
export class OpenFiles {
  /** Insertion order is use order: the first entry is the least recently used. */
  private readonly files = new Map<string, OpenFile>();

  constructor(
    private readonly flags: number,
    private readonly max = 64,
  ) {}

  /** The path's descriptor, opened with the cache's flags if it is not open (throws as openSync does). */
  get(path: string): OpenFile {
    const cached = this.files.get(path);
    if (cached) {
      this.files.delete(path);
      this.files.set(path, cached);
      return cached;
    }
    const file: OpenFile = { fd: openSync(path, this.flags) };
    this.files.set(path, file);
    if (this.files.size > this.max) this.drop(this.files.keys().next().value!);
    return file;
  }

  drop(path: string): void {
    const file = this.files.get(path);
    if (!file) return;
    this.files.delete(path);
    closeSync(file.fd);
  }

  /** Closes the descriptors of every file under the directory `dir`. */
  dropUnder(dir: string): void {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const path of [...this.files.keys()]) if (path.startsWith(prefix)) this.drop(path);
  }

  dropAll(): void {
    for (const path of [...this.files.keys()]) this.drop(path);
  }
}
