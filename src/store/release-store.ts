import { chmod, mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { decodeSignedRelease, encodeSignedRelease, type SignedRelease } from '../manifest/index.js';
import { atomicWrite } from './atomic-write.js';

export interface NodeState {
  /** Version that livePath points at (or the publisher's newest), null before the first. */
  live: number | null;
  /** A pinned node keeps seeding but does not activate newer releases. */
  pinned: boolean;
}

const DEFAULT_STATE: NodeState = { live: null, pinned: false };

/**
 * The node's data directory: signed heads (heads/<v>.release), materialized release trees
 * (releases/<v>/), staging areas and state.json.
 */
export class ReleaseStore {
  readonly headsDir: string;
  readonly releasesDir: string;
  readonly stagingDir: string;
  readonly objectsDir: string;
  readonly driftDir: string;
  readonly statePath: string;

  constructor(readonly dataDir: string) {
    this.headsDir = join(dataDir, 'heads');
    this.releasesDir = join(dataDir, 'releases');
    this.stagingDir = join(dataDir, 'staging');
    this.objectsDir = join(dataDir, 'objects');
    this.driftDir = join(dataDir, 'drift');
    this.statePath = join(dataDir, 'state.json');
  }

  async init(): Promise<void> {
    for (const d of [this.headsDir, this.releasesDir, this.stagingDir, this.objectsDir, this.driftDir]) {
      await mkdir(d, { recursive: true });
    }
  }

  releasePath(version: number): string {
    return join(this.releasesDir, String(version));
  }

  stagingPath(version: number): string {
    return join(this.stagingDir, String(version));
  }

  /**
   * Moves the tree of materialized release `from` to staging/<to>: it is no longer a release. The
   * caller makes sure staging/<to> does not exist.
   */
  async moveToStaging(from: number, to: number, why: string): Promise<void> {
    try {
      await mkdir(this.stagingDir, { recursive: true });
      // Moving a directory to another parent rewrites its "..": that needs write permission on it.
      await chmod(this.releasePath(from), 0o700);
      await rename(this.releasePath(from), this.stagingPath(to));
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `moving release ${from} to staging (${why})`);
    }
  }

  async saveHead(release: SignedRelease): Promise<void> {
    await atomicWrite(join(this.headsDir, `${release.body.version}.release`), encodeSignedRelease(release));
  }

  /** The stored head of a version; heads were verified before they were saved. */
  async head(version: number): Promise<SignedRelease> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(this.headsDir, `${version}.release`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw ChunkswarmError.notFound(`release ${version}`);
      throw ChunkswarmError.fromSystem(err, `reading release ${version}`);
    }
    return decodeSignedRelease(bytes);
  }

  /** Versions whose signed head is stored, ascending. */
  async versions(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.headsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw ChunkswarmError.fromSystem(err, 'listing releases');
    }
    return names
      .map((n) => /^(\d+)\.release$/.exec(n)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** Versions whose tree is materialized under releases/, ascending. */
  async materialized(): Promise<number[]> {
    const names = await readdir(this.releasesDir).catch(() => [] as string[]);
    return names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
  }

  async latest(): Promise<SignedRelease | null> {
    const vs = await this.versions();
    const v = vs[vs.length - 1];
    return v === undefined ? null : this.head(v);
  }

  async state(): Promise<NodeState> {
    // A node with no release yet has no state.json, and serve asks every second: a failed open
    // is an error object with its stack, a twentieth of an idle node's CPU (perf, 33 nodes).
    if (!existsSync(this.statePath)) return { ...DEFAULT_STATE };
    try {
      return { ...DEFAULT_STATE, ...(JSON.parse(await readFile(this.statePath, 'utf8')) as Partial<NodeState>) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...DEFAULT_STATE };
      throw ChunkswarmError.fromSystem(err, `reading ${this.statePath}`);
    }
  }

  async saveState(state: NodeState): Promise<void> {
    await atomicWrite(this.statePath, JSON.stringify(state, null, 2) + '\n');
  }
}
