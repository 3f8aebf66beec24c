import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError, readdirOrEmpty, statSizeOrZero } from '../core/index.js';
import { atomicWrite } from './atomic-write.js';
import { buildPack, packRecordsOf, type PackRecords } from './pack-file.js';

/** Packs kept in memory (PackShelf.keep): a release's file pack and tree pack. */
const KEPT_PACKS = 2;
/** What a pack's file name may be: it is never a path. */
const PACK_NAME = /^[\w.-]+$/;

/**
 * The pack files of an object store (objects/packs/): read checked whole, a damaged one removed,
 * the last few read or written kept in memory as their records, so that the next pack, which
 * shares most of them, is written by copying runs of them (buildPack).
 */
export class PackShelf {
  private readonly kept = new Map<string, PackRecords>();

  constructor(private readonly dir: string) {}

  /** The records of a valid pack, or null (a damaged pack is removed, with `removeDamaged`). */
  records(name: string, removeDamaged = true): Buffer | null {
    const path = this.path(name);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      return null;
    }
    const records = packRecordsOf(bytes);
    if (records === null && removeDamaged) rmSync(path, { force: true });
    return records;
  }

  /** Keeps a pack's records among the last few read or written. */
  keep(pack: PackRecords): void {
    this.kept.delete(pack.name);
    this.kept.set(pack.name, pack);
    for (const name of this.kept.keys()) {
      if (this.kept.size <= KEPT_PACKS) break;
      this.kept.delete(name);
    }
  }

  /** Keeps in memory only the packs named in `names`; returns those it had. */
  retain(names: readonly string[]): PackRecords[] {
    const packs = [...this.kept.values()].filter((p) => names.includes(p.name));
    this.kept.clear();
    for (const pack of packs) this.keep(pack);
    return packs;
  }

  /**
   * Writes pack `name` of the objects `wanted`, unless it exists: the records of `like`'s pack
   * copied as they are, the rest encoded by `body`. Not durable: a lost pack is only slower.
   * Nothing is written if `body` lacks one of them (see buildPack).
   */
  async write(name: string, wanted: Set<string>, like: string | null, body: (hash: string) => Uint8Array | null): Promise<void> {
    const path = this.path(name);
    if (existsSync(path)) return;
    const built = buildPack(name, wanted, like === null ? null : this.read(like), body);
    if (built === null) return;
    mkdirSync(join(this.dir, 'packs'), { recursive: true });
    await atomicWrite(path, built.bytes, { durable: false }).then(() => this.keep(built.pack), () => undefined);
  }

  /** Bytes of a pack on disk, 0 if there is none. */
  size(name: string): number {
    return statSizeOrZero(this.path(name));
  }

  /** Names of the packs on disk. */
  names(): string[] {
    return readdirOrEmpty(join(this.dir, 'packs')).filter((n) => PACK_NAME.test(n));
  }

  drop(name: string): void {
    rmSync(this.path(name), { force: true });
  }

  /** A valid pack's records (those kept, if it is one of the last read or written), or null. */
  private read(name: string): PackRecords | null {
    const known = this.kept.get(name);
    if (known) return known;
    const records = this.records(name);
    return records === null ? null : { name, records };
  }

  private path(name: string): string {
    if (!PACK_NAME.test(name)) throw ChunkswarmError.usage(`not a pack name: ${JSON.stringify(name)}`);
    return join(this.dir, 'packs', name);
  }
}
