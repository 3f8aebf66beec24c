/**
 * An outside view of a rollout: which pieces of a release each follower really holds on disk,
 * read from its staging (or finished release) directory and hashed. The fault tests use it to know,
 * independently of the nodes' own reports, whether every chunk still exists somewhere in the swarm
 * and what a restarted node already had before it was killed.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeHandle } from '../../bench/lib/cluster.js';
import { releasePieces, walkTree, type Piece } from '../../src/manifest/index.js';
import { ObjectStore, ReleaseStore } from '../../src/store/index.js';

interface Slot {
  path: string;
  offset: number;
}

/** Bytes read first: a piece not written yet is a hole (zeros) there, and is skipped unhashed. */
const PROBE = 4096;

export class PieceOracle {
  /** Per follower, pieces seen on its disk; a piece once written stays (staging only grows). */
  private readonly seen = new Map<string, Set<number>>();

  private constructor(
    readonly version: number,
    readonly pieces: readonly Piece[],
    /** Every place each chunk occurs, by chunk hash. */
    private readonly slots: ReadonlyMap<string, readonly Slot[]>,
  ) {}

  /** Reads the release's piece list and every place each piece occurs from the publisher's store. */
  static async load(publisherData: string, version: number): Promise<PieceOracle> {
    const releases = new ReleaseStore(publisherData);
    const objects = new ObjectStore(releases.objectsDir);
    const head = await releases.head(version);
    const slots = new Map<string, Slot[]>();
    await walkTree(head.body.root, (h) => objects.getTree(h), async (path, entry) => {
      if (entry.type !== 'file') return;
      let offset = 0;
      for (const c of (await objects.getFile(entry.hash!)).chunks) {
        slots.set(c.hash, [...(slots.get(c.hash) ?? []), { path, offset }]);
        offset += c.size;
      }
    });
    const pieces = await releasePieces(head.body.root, (h) => objects.getTree(h), (h) => objects.getFile(h));
    return new PieceOracle(version, pieces, slots);
  }

  get bytesTotal(): number {
    return this.pieces.reduce((n, p) => n + p.size, 0);
  }

  /** Pieces on `node`'s disk now, verified by hash. */
  async held(node: NodeHandle): Promise<Set<number>> {
    const have = this.seen.get(node.name) ?? new Set<number>();
    this.seen.set(node.name, have);
    const bases = [join(node.dataDir, 'staging', String(this.version)), join(node.dataDir, 'releases', String(this.version))];
    for (let i = 0; i < this.pieces.length; i++) {
      if (have.has(i)) continue;
      if (await this.onDisk(bases, i)) have.add(i);
    }
    return new Set(have);
  }

  /** Pieces that at least one of `nodes` holds. */
  async union(nodes: NodeHandle[]): Promise<Set<number>> {
    const all = new Set<number>();
    for (const n of nodes) for (const i of await this.held(n)) all.add(i);
    return all;
  }

  /** Forget what was seen on a node (its staging area may be rebuilt after a crash). */
  forget(node: NodeHandle): void {
    this.seen.delete(node.name);
  }

  /** Whether every chunk of piece `i` is somewhere on that disk. */
  private async onDisk(bases: string[], i: number): Promise<boolean> {
    for (const c of this.pieces[i]!.chunks) {
      let found = false;
      for (const base of bases) {
        for (const slot of this.slots.get(c.hash)!) {
          const bytes = await readAt(join(base, slot.path), slot.offset, c.size);
          if (!bytes || bytes.subarray(0, PROBE).every((b) => b === 0)) continue;
          if ((found = createHash('sha256').update(bytes).digest('hex') === c.hash)) break;
        }
        if (found) break;
      }
      if (!found) return false;
    }
    return true;
  }
}

async function readAt(path: string, offset: number, size: number): Promise<Buffer | null> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, offset);
    return bytesRead === size ? buf : null;
  } finally {
    await fh.close();
  }
}
