import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stager } from '../../src/deploy/index.js';
import { InodeCache, ObjectStore, ReleaseStore } from '../../src/store/index.js';
import { chunkBytes, clusterIdOf, generatePublisherKeys, signRelease, type SignedRelease, type TreeEntry } from '../../src/manifest/index.js';
import { asChunkHash, isChunkswarmError, type ObjectHash } from '../../src/core/index.js';

const keys = generatePublisherKeys();
export const T = Date.UTC(2024, 0, 1);

/**
 * A node's data dir plus releases crafted object by object (what a compromised or buggy publisher
 * could sign), and a map of every chunk's bytes standing in for the network.
 */
export class Craft {
  readonly network = new Map<string, Uint8Array>();
  readonly releases: ReleaseStore;
  readonly objects: ObjectStore;
  /** One inode cache for the node, as a Deployer holds. */
  readonly inodes = InodeCache.memory();

  private constructor(readonly dir: string) {
    this.releases = new ReleaseStore(join(dir, 'data'));
    this.objects = new ObjectStore(this.releases.objectsDir);
  }

  static async create(prefix: string): Promise<Craft> {
    const c = new Craft(await mkdtemp(join(tmpdir(), prefix)));
    await c.releases.init();
    return c;
  }

  async file(name: string, bytes: Uint8Array, extra: Partial<TreeEntry> = {}): Promise<TreeEntry> {
    const chunks = chunkBytes(bytes);
    let off = 0;
    for (const c of chunks) this.network.set(c.hash, bytes.subarray(off, (off += c.size)));
    const hash = await this.objects.put({ kind: 'file', size: bytes.length, chunks });
    return { name, type: 'file', mode: 0o644, mtime: T, hash, ...extra };
  }

  /** A file cut where the caller says: a publisher may chunk any way it likes, staging must not care. */
  async fileFromChunks(name: string, parts: Uint8Array[], extra: Partial<TreeEntry> = {}): Promise<TreeEntry> {
    const chunks = parts.map((p) => {
      const hash = asChunkHash(createHash('sha256').update(p).digest('hex'));
      this.network.set(hash, p);
      return { hash, size: p.length };
    });
    const size = parts.reduce((n, p) => n + p.length, 0);
    return { name, type: 'file', mode: 0o644, mtime: T, hash: await this.objects.put({ kind: 'file', size, chunks }), ...extra };
  }

  async dir_(name: string, entries: TreeEntry[]): Promise<TreeEntry> {
    return { name, type: 'dir', mode: 0o755, mtime: T, hash: await this.tree(entries) };
  }

  tree(entries: TreeEntry[]): Promise<ObjectHash> {
    return this.objects.put({ kind: 'tree', entries });
  }

  release(version: number, root: ObjectHash): SignedRelease {
    const body = { kind: 'release' as const, cluster: clusterIdOf(keys.publicKey), version, root, parent: null, created: T, note: '' };
    return signRelease(body, keys.privateKeyPem, keys.publicKey);
  }

  open(r: SignedRelease, liveVersion: number | null = null, extra: Partial<Parameters<typeof Stager.open>[0]> = {}): Promise<Stager> {
    const { releases, objects } = this;
    return Stager.open({ release: r, releases, objects, inodes: this.inodes, liveVersion, ...extra });
  }

  /** A piece's bytes as the network would send them. */
  piece(s: Stager, i: number): Buffer {
    return Buffer.concat(s.pieces[i]!.chunks.map((c) => this.network.get(c.hash)!));
  }

  /** Feeds every missing piece from the "network" and completes. */
  async finish(s: Stager): Promise<string> {
    for (const i of s.missing()) await s.writePiece(i, this.piece(s, i));
    return s.complete();
  }
}

export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return isChunkswarmError(err) ? err.code : String(err);
  }
}
