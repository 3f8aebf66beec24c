import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BytesCache, ChunkswarmError, isChunkswarmError, isHex64, readdirOrEmpty, type ObjectHash } from '../core/index.js';
import { decodeObject, encodeObject, objectHash, type FileObject, type ManifestObject, type TreeObject } from '../manifest/index.js';
import { eachRecord } from './journal-records.js';
import { ObjectJournal, type JournalCompaction } from './object-journal.js';
import { PackShelf } from './pack-shelf.js';

/**
 * What ObjectStore keeps of the objects it read lately, in memory: the bytes and what an entry
 * costs besides (RECENT_ENTRY_BYTES). Enough for the objects of a 10^5-file release (~90,000
 * entries of ~100 bytes): a master serves each of them to every follower in a cold rollout, and
 * with a quarter of them in memory (8 MB so counted) its rollout of 100,000 files took 10-20 %
 * more CPU, the follower's too (bench:seed, 2026-12-07). A release of 20,000 files takes ~7 MB.
 */
const RECENT_BYTES = 32 << 20;
/**
 * An entry of the recent objects beyond its bytes: its key, its node in the use order, its Map
 * slot, the Buffer object; 240-330 bytes measured. Not counted, a bound of 8 MB held 26 MB at 10^5
 * objects (a follower's heap snapshot, 2026-12-07).
 */
const RECENT_ENTRY_BYTES = 256;

/**
 * Content-addressed tree and file objects under dataDir/objects/; never chunks (chunks live in the
 * materialized release files). New objects are appended to this store's journal file
 * (ObjectJournal); objects in files of their own (objects/ab/cdef…, as older versions stored them)
 * are still read. Objects are re-hashed when read, so a damaged one is reported, not trusted.
 */
export class ObjectStore {
  private cache = new Map<string, ManifestObject>();
  private readonly journal: ObjectJournal;
  /**
   * Hashes of the objects in files of their own, found by one listing of every fanout directory,
   * made (with a scan of the journals) on the first has() or write that needs it.
   */
  private present: Set<string> | null = null;
  /** Packs whose objects are all in `cache` (read since the last trim(), or kept by it): a read would only decode what is there again. */
  private readonly packsRead = new Set<string>();
  /**
   * The pack files, the last read or written kept in memory: the next savePack copies most of a new
   * release's pack from the live release's, and would otherwise read and check it again.
   */
  private readonly packFiles: PackShelf;
  /** Fetches running into this store (fetching()). */
  private fetches = 0;
  /**
   * Encoded bytes of objects read lately, checked when read, least recently used first: in a cold
   * rollout every follower asks the publisher for each of a release's objects (10^4-10^5 of them),
   * and reading and hashing each again per follower was a third of the publisher's work.
   */
  private readonly recent = new BytesCache<string>(RECENT_BYTES, { maxShare: 64, entryBytes: RECENT_ENTRY_BYTES });
  /**
   * Where get() fetches an object again that is damaged on disk or missing (the rollout points it
   * at its peers while it fetches and stages a release): objects are content-addressed, so any
   * holder's copy is as good, and a node does not stay stuck on one flipped byte. Null: such an
   * object is an error (E_HASH_MISMATCH naming where it lies, or E_NOT_FOUND).
   */
  refetch: ((hash: ObjectHash, why: ChunkswarmError) => Promise<Uint8Array>) | null = null;

  constructor(readonly dir: string) {
    this.packFiles = new PackShelf(dir);
    // Objects whose records a failed write lost are not there: asked for, they are fetched again.
    this.journal = new ObjectJournal(dir, (hashes) => {
      for (const h of hashes) this.cache.delete(h);
    });
  }

  private pathOf(hash: string): string {
    if (!isHex64(hash)) throw ChunkswarmError.badObject(`not an object hash: ${JSON.stringify(hash)}`);
    return join(this.dir, hash.slice(0, 2), hash.slice(2));
  }

  /**
   * Walking a release's objects asks this of every object, most of them present: one scan of the
   * journals and one listing of the 256 fanout directories answer them all, far cheaper than one
   * stat each, and this store's writes keep them current. An object another process wrote since is
   * not seen: it is fetched and written again, the same bytes (a new release's 10^5 objects cost a
   * stat each otherwise).
   */
  has(hash: ObjectHash): boolean {
    return this.cache.has(hash) || this.stored(hash);
  }

  private stored(hash: string): boolean {
    this.index();
    return this.journal.has(hash) || this.present!.has(hash);
  }

  /**
   * Makes what has() answers from, if not made yet: one listing of the fanout directories and one
   * scan of every journal, ~0.1 s per 50,000 records. serve has it made once it has nothing else
   * to do, so that the first release after a start does not wait for it.
   */
  index(): void {
    if (this.present !== null) return;
    this.present = this.list();
    this.journal.scan();
  }

  private list(): Set<string> {
    const out = new Set<string>();
    for (const fanout of readdirOrEmpty(this.dir)) {
      if (fanout.length !== 2) continue;
      for (const name of readdirOrEmpty(join(this.dir, fanout))) if (name.length === 62) out.add(fanout + name);
    }
    return out;
  }

  async put(obj: ManifestObject): Promise<ObjectHash> {
    const bytes = encodeObject(obj);
    return this.write(objectHash(bytes), bytes, obj, false);
  }

  /** Stores already-encoded bytes (e.g. received from a peer) after checking hash and decoding. */
  async putBytes(bytes: Uint8Array, expected?: ObjectHash): Promise<ObjectHash> {
    return this.accept(bytes, expected ?? null, false);
  }

  /**
   * putBytes for bytes the caller has just checked against `hash` (fetchObjects' requesters do:
   * the wire, to tell which peer lied): decoded and stored without hashing them again. `decoded`:
   * the object, where the caller decoded it already.
   */
  async putVerified(bytes: Uint8Array, hash: ObjectHash, decoded?: ManifestObject): Promise<ObjectHash> {
    return this.write(hash, bytes, decoded ?? decodeObject(bytes), false);
  }

  /** putBytes; `replace`: stored even where a copy is (one found damaged). */
  private async accept(bytes: Uint8Array, expected: ObjectHash | null, replace: boolean): Promise<ObjectHash> {
    const hash = objectHash(bytes);
    if (expected && hash !== expected) throw ChunkswarmError.hashMismatch('object', expected, hash);
    return this.write(hash, bytes, decodeObject(bytes), replace);
  }

  /**
   * Synchronous on purpose: objects are small and a release writes one per file, where a trip
   * through the thread pool per syscall would cost more than the write. No fsync per object:
   * callers flush once with syncFilesystem before a release that needs them is saved; a torn
   * record is not read back (ObjectJournal).
   */
  private async write(hash: ObjectHash, bytes: Uint8Array, obj: ManifestObject, replace: boolean): Promise<ObjectHash> {
    if (replace || (!this.cache.has(hash) && !this.stored(hash))) this.append(hash, bytes);
    this.cache.set(hash, obj);
    // What is written is read next: by the peers that fetch a new release's objects from here, and
    // by savePack, which would otherwise encode again every object a release does not share.
    this.keepRecent(hash, bytes);
    return hash;
  }

  /**
   * An object fetched from a peer is a view of the message that brought it with hundreds of others
   * (~1 MB): kept as it is, each view kept its whole message alive. Copied unless it is most of
   * what it views. (A small Buffer is a view of node's 8 KiB pool: no gain in copying that.)
   */
  private keepRecent(hash: string, bytes: Uint8Array): void {
    const held = bytes.buffer.byteLength;
    this.recent.set(hash, held > Buffer.poolSize && held > 2 * bytes.byteLength ? Buffer.from(bytes) : bytes);
  }

  private append(hash: string, bytes: Uint8Array): void {
    try {
      this.journal.append(hash, bytes);
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `writing object ${hash}`);
    }
  }

  /** Synchronous for the same reason as write(): a release of 10^5 files reads 10^5 small objects. */
  async getBytes(hash: ObjectHash): Promise<Uint8Array | null> {
    const seen = this.recent.get(hash);
    if (seen) return seen;
    let found = this.journal.read(hash) ?? readLoose(this.pathOf(hash));
    if (found === null) {
      // Another process (publish beside serve, say) may have written it since the last scan.
      this.journal.scan();
      found = this.journal.read(hash);
    }
    if (found === null) return null;
    const got = objectHash(found.bytes);
    if (got !== hash) throw ChunkswarmError.hashMismatch(`object ${found.where}`, hash, got);
    this.keepRecent(hash, found.bytes);
    return found.bytes;
  }

  async get(hash: ObjectHash): Promise<ManifestObject> {
    const cached = this.cache.get(hash);
    if (cached) return cached;
    let bytes: Uint8Array | null;
    try {
      bytes = await this.getBytes(hash);
      if (!bytes) throw ChunkswarmError.notFound(`object ${hash}`);
    } catch (err) {
      if (this.refetch === null || !(isChunkswarmError(err, 'E_HASH_MISMATCH') || isChunkswarmError(err, 'E_NOT_FOUND'))) throw err;
      // Stored even where a damaged record is indexed: the newer record is the one read from now on.
      await this.accept(await this.refetch(hash, err), hash, true);
      return this.cache.get(hash)!;
    }
    const obj = decodeObject(bytes);
    this.cache.set(hash, obj);
    return obj;
  }

  /**
   * A pack: the encoded objects of one set (a release's file objects) in one file, so that a
   * process reads a release of 10^5 files in one read instead of 10^5. Derived data, checked whole
   * (pack-file.ts): one hash of the file instead of one per object,
   * which was a third of reading it. A missing or damaged pack only costs the single reads; a
   * damaged one (or one of an older layout) is removed, so the next savePack writes it again.
   * Returns how many objects it added to memory (0 if it was read already); null if there is no
   * valid pack.
   */
  loadPack(name: string): number | null {
    if (this.packsRead.has(name)) return 0;
    const records = this.packFiles.records(name);
    if (records === null) return null;
    this.packsRead.add(name);
    let n = 0;
    eachRecord(records, (hash, _start, body) => {
      if (this.cache.has(hash)) return;
      try {
        this.cache.set(hash, decodeObject(body));
        n++;
      } catch {
        // Not an object after all: that one is read from the store instead.
      }
    });
    this.packFiles.keep({ name, records });
    return n;
  }

  /**
   * The encoded objects of a valid pack by hash (views of one read), unchecked one by one: for a
   * reader that checks each against its hash itself, as an import from another data directory
   * does. Null if there is no valid pack; a damaged one is left alone (it may be another
   * node's, or on a read-only mount).
   */
  packBytes(name: string): Map<string, Uint8Array> | null {
    const records = this.packFiles.records(name, false);
    if (records === null) return null;
    const out = new Map<string, Uint8Array>();
    eachRecord(records, (hash, _start, body) => out.set(hash, body));
    return out;
  }

  /**
   * Writes a pack of these objects (all in memory), unless it exists. The records of `like`'s pack
   * (a release sharing most of them, read just before) are copied as they are, the rest encoded.
   * Not durable: a lost pack is only slower. Nothing is written if one of them is neither in `like`'s
   * pack nor in memory: a pack, once there, is never written again, and one short of objects
   * would send every later read of them to the journal.
   */
  async savePack(name: string, hashes: Iterable<ObjectHash>, like: string | null = null): Promise<void> {
    await this.packFiles.write(name, new Set<string>(hashes), like, (hash) => {
      const obj = this.cache.get(hash);
      return obj ? (this.recent.get(hash) ?? encodeObject(obj)) : null;
    });
  }

  /** Runs a fetch into this store: compact() waits for none, it is skipped while one runs. */
  async fetching<T>(work: () => Promise<T>): Promise<T> {
    this.fetches++;
    try {
      return await work();
    } finally {
      this.fetches--;
    }
  }

  /** Bytes of the object journals on disk. */
  journalBytes(): number {
    return this.journal.bytes();
  }

  /** Bytes the journals held after their last compaction, 0 if none is known. */
  journalKeptBytes(): number {
    return this.journal.keptBytes();
  }

  /** Bytes of a pack on disk, 0 if there is none. */
  packSize(name: string): number {
    return this.packFiles.size(name);
  }

  /**
   * A tree object from this node alone (memory, journal, its own file), or null if it is missing or
   * damaged: never fetched again from peers, whatever `refetch` says.
   */
  async localTree(hash: ObjectHash): Promise<TreeObject | null> {
    const cached = this.cache.get(hash);
    if (cached) return cached.kind === 'tree' ? cached : null;
    try {
      const bytes = await this.getBytes(hash);
      const obj = bytes && decodeObject(bytes);
      return obj?.kind === 'tree' ? obj : null;
    } catch {
      return null;
    }
  }

  /**
   * Keeps in the journals only the objects of `keep` (ObjectJournal.compact), and in memory too.
   * Null, doing nothing, while a fetch into this store runs: objects it stored under a tree not
   * stored yet are reached from no root, and its tree would later stand for a subtree it lacks.
   */
  compact(keep: ReadonlySet<string>): JournalCompaction | null {
    if (this.fetches > 0) return null;
    const done = this.journal.compact(keep);
    for (const hash of this.cache.keys()) if (!keep.has(hash)) this.cache.delete(hash);
    this.recent.clear();
    return done;
  }

  /** Writes what is pending (ObjectJournal.close) and closes the files this store holds open; it stays usable (they open again). */
  close(): void {
    this.journal.close();
  }

  /**
   * Forgets the objects held in memory but those of the release `keep` (the live one) found there:
   * a node that finished with a release would otherwise keep every object it touched for as long
   * as it runs, and the next release shares nearly every object with the live one, which staging
   * it would otherwise read and decode again. What is dropped is read again when used (packs make
   * that cheap).
   */
  trim(keep: { root: ObjectHash; packs: readonly string[] } | null = null): void {
    const kept = new Map<string, ManifestObject>();
    let whole = true;
    const todo = keep === null ? [] : [keep.root];
    for (let hash = todo.pop(); hash !== undefined; hash = todo.pop()) {
      const obj = this.cache.get(hash);
      if (obj === undefined) whole = false;
      if (obj === undefined || kept.has(hash)) continue;
      kept.set(hash, obj);
      if (obj.kind === 'tree') for (const e of obj.entries) if (e.hash !== undefined) todo.push(e.hash);
    }
    this.cache = kept;
    this.recent.clear();
    this.packsRead.clear();
    const packs = this.packFiles.retain(keep?.packs ?? []);
    // Its packs (valid, when kept) hold nothing but its objects: with all of them in memory,
    // reading the packs would add none.
    if (whole) for (const pack of packs) this.packsRead.add(pack.name);
  }

  /** Names of the packs on disk. */
  packs(): string[] {
    return this.packFiles.names();
  }

  dropPack(name: string): void {
    this.packFiles.drop(name);
  }

  /** A tree object if it is in memory now (a pack loaded, read lately), else null: no read, no promise. */
  treeInMemory(hash: ObjectHash): TreeObject | null {
    const obj = this.cache.get(hash);
    return obj?.kind === 'tree' ? obj : null;
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

/** An object in a file of its own, or null if there is none. */
function readLoose(path: string): { bytes: Buffer; where: string } | null {
  try {
    return { bytes: readFileSync(path), where: `file ${path}` };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ChunkswarmError.fromSystem(err, `reading object file ${path}`);
  }
}
