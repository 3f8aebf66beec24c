import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { readFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError, isHex64, type ObjectHash } from '../core/index.js';
import { decodeObject, encodeObject, objectHash, type FileObject, type ManifestObject, type TreeObject } from '../manifest/index.js';

/**
 * Content-addressed tree and file objects under dataDir/objects/ab/cdef…; never chunks (chunks live
 * in the materialized release files). Objects are re-hashed when read, so a damaged object file is
 * reported, not trusted.
 */
export class ObjectStore {
  private readonly cache = new Map<string, ManifestObject>();
  private readonly fanouts = new Set<string>();

  constructor(readonly dir: string) {}

  private pathOf(hash: string): string {
    if (!isHex64(hash)) throw ChunkswarmError.badObject(`not an object hash: ${JSON.stringify(hash)}`);
    return join(this.dir, hash.slice(0, 2), hash.slice(2));
  }

  async has(hash: ObjectHash): Promise<boolean> {
    if (this.cache.has(hash)) return true;
    try {
      await access(this.pathOf(hash));
      return true;
    } catch {
      return false;
    }
  }

  async put(obj: ManifestObject): Promise<ObjectHash> {
    return this.write(encodeObject(obj), obj);
  }

  /** Stores already-encoded bytes (e.g. received from a peer) after checking hash and decoding. */
  async putBytes(bytes: Uint8Array, expected?: ObjectHash): Promise<ObjectHash> {
    const hash = objectHash(bytes);
    if (expected && hash !== expected) throw ChunkswarmError.hashMismatch('object', expected, hash);
    return this.write(bytes, decodeObject(bytes));
  }

  /**
   * Synchronous on purpose: objects are small and a release writes one per file, where a trip
   * through the thread pool per syscall would cost more than the write. No fsync per object:
   * callers flush once with syncFilesystem before a release that needs them is saved; a torn
   * object would be caught by its hash.
   */
  private async write(bytes: Uint8Array, obj: ManifestObject): Promise<ObjectHash> {
    const hash = objectHash(bytes);
    if (!this.cache.has(hash)) {
      const path = this.pathOf(hash);
      const fanout = hash.slice(0, 2);
      try {
        if (!this.fanouts.has(fanout)) {
          mkdirSync(join(this.dir, fanout), { recursive: true });
          this.fanouts.add(fanout);
        }
        if (!existsSync(path)) {
          const tmp = `${path}.${process.pid}.tmp`;
          writeFileSync(tmp, bytes);
          renameSync(tmp, path);
        }
      } catch (err) {
        throw ChunkswarmError.fromSystem(err, `writing object ${hash}`);
      }
    }
    this.cache.set(hash, obj);
    return hash;
  }

  async getBytes(hash: ObjectHash): Promise<Uint8Array | null> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(this.pathOf(hash));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw ChunkswarmError.fromSystem(err, `reading object ${hash}`);
    }
    const got = objectHash(bytes);
    if (got !== hash) throw ChunkswarmError.hashMismatch(`object file ${this.pathOf(hash)}`, hash, got);
    return bytes;
  }

  async get(hash: ObjectHash): Promise<ManifestObject> {
    const cached = this.cache.get(hash);
    if (cached) return cached;
    const bytes = await this.getBytes(hash);
    if (!bytes) throw ChunkswarmError.notFound(`object ${hash}`);
    const obj = decodeObject(bytes);
    this.cache.set(hash, obj);
    return obj;
  }

  async getTree(hash: ObjectHash): Promise<TreeObject> {
    const obj = await this.get(hash);
    if (obj.kind !== 'tree') throw ChunkswarmError.badObject(`${hash} is a ${obj.kind} object, expected a tree`);
    return obj;
  }

  async getFile(hash: ObjectHash): Promise<FileObject> {
    const obj = await this.get(hash);
    if (obj.kind !== 'file') throw ChunkswarmError.badObject(`${hash} is a ${obj.kind} object, expected a file`);
    return obj;
  }
}
