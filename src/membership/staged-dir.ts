import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';

/**
 * The contents of a directory that must be new (or empty), written somewhere it does not count
 * until commit(): a temporary directory beside it, renamed into place (one rename(2)); or, for an
 * empty directory that already exists (made by the operator with the right owner, in a parent the
 * service user may not write), a temporary directory inside it whose entries are moved up, the
 * ones named last moved last.
 */
export class StagedDir {
  private moved: string[] = [];
  private renamed = false;

  private constructor(readonly target: string, readonly path: string, private readonly exists: boolean) {}

  /** E_EXISTS if `target` is a file, a node already (`marker` in it) or not empty. */
  static async open(target: string, marker: string): Promise<StagedDir> {
    let entries: string[] | null = null;
    try {
      entries = await readdir(target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new ChunkswarmError('E_EXISTS', `${target} exists and is not a directory`);
      if (code !== 'ENOENT') throw ChunkswarmError.fromSystem(err, `reading ${target}`);
    }
    if (entries?.includes(marker)) {
      throw new ChunkswarmError('E_EXISTS', `${join(target, marker)} already exists: this directory is a node already; join into a new directory`);
    }
    if (entries && entries.length > 0) {
      throw new ChunkswarmError('E_EXISTS', `${target} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): join into a new or empty directory`);
    }
    const tag = `.join-${randomBytes(4).toString('hex')}`;
    const path = entries ? join(target, tag) : join(dirname(target), `.${basename(target)}${tag}`);
    await mkdir(path, { mode: 0o755 }).catch((err) => {
      throw ChunkswarmError.fromSystem(err, `creating ${path}`);
    });
    return new StagedDir(target, path, entries !== null);
  }

  /** Puts the contents in place; `last` (e.g. the config file) goes after everything else. */
  async commit(last?: string): Promise<void> {
    try {
      if (!this.exists) {
        await rename(this.path, this.target);
        this.renamed = true;
        return;
      }
      const names = (await readdir(this.path)).sort((a, b) => Number(a === last) - Number(b === last));
      for (const name of names) {
        await rename(join(this.path, name), join(this.target, name));
        this.moved.push(name);
      }
      await rmdir(this.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw code === 'ENOTEMPTY' || code === 'EEXIST'
        ? new ChunkswarmError('E_EXISTS', `${this.target} was filled by something else meanwhile`)
        : ChunkswarmError.fromSystem(err, `moving the new files into ${this.target}`);
    }
  }

  /** Removes whatever this wrote, committed or not: the temporary directory, or what was moved into place. */
  async discard(): Promise<void> {
    await rm(this.renamed ? this.target : this.path, { recursive: true, force: true }).catch(() => undefined);
    this.renamed = false;
    for (const name of this.moved) await rm(join(this.target, name), { recursive: true, force: true }).catch(() => undefined);
    this.moved = [];
  }
}
