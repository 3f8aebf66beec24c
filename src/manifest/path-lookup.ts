import type { ObjectHash } from '../core/index.js';
import type { TreeEntry } from './types.js';
import type { LoadTree } from './walk.js';

/**
 * Entries of a tree looked up by path, reading only the directories on the way, each once: asking
 * for a few paths of a 10^5-file tree costs a few tree objects, not a walk of the whole tree.
 */
export class PathLookup {
  private readonly dirs = new Map<string, Promise<ReadonlyMap<string, TreeEntry> | null>>();

  constructor(
    private readonly root: ObjectHash,
    private readonly loadTree: LoadTree,
  ) {}

  /** The entry at a release path ("a/b/c"), or undefined. */
  async entry(path: string): Promise<TreeEntry | undefined> {
    const i = path.lastIndexOf('/');
    return (await this.dir(i < 0 ? '' : path.slice(0, i)))?.get(path.slice(i + 1));
  }

  private dir(path: string): Promise<ReadonlyMap<string, TreeEntry> | null> {
    let d = this.dirs.get(path);
    if (!d) {
      d = this.load(path);
      this.dirs.set(path, d);
    }
    return d;
  }

  private async load(path: string): Promise<ReadonlyMap<string, TreeEntry> | null> {
    let hash = this.root;
    if (path !== '') {
      const e = await this.entry(path);
      if (e?.type !== 'dir') return null;
      hash = e.hash!;
    }
    return new Map((await this.loadTree(hash)).entries.map((e) => [e.name, e]));
  }
}
