import { closeSync, constants, fdatasyncSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError, statSizeOrZero } from '../core/index.js';
import { pidAlive } from './data-lock.js';
import { eachFileRecord, encodeRecord, listJournals, newJournalName, readRecordBody, RECORD_HEAD, SCAN_WINDOW, writerPid } from './journal-records.js';

/** What a compaction did: journal files rewritten, their bytes before and after, records kept and dropped. */
export interface JournalCompaction {
  files: number;
  bytesBefore: number;
  bytesAfter: number;
  kept: number;
  dropped: number;
}

/** Appended records wait in memory until this much is pending, the end of the event loop turn, or a syncfs. */
const PENDING_BYTES = 64 * 1024;

/** Journals holding records not written yet: flushObjectJournals() writes them all. */
const withPending = new Set<ObjectJournal>();

/**
 * Writes every record this process appended but did not write yet. syncFilesystem() calls it
 * first, so that a syncfs covers the objects appended before it, as when each was written at once.
 * Throws the first write failure (e.g. ENOSPC) of any journal since the last call.
 */
export function flushObjectJournals(): void {
  let first: unknown = null;
  for (const j of [...withPending]) {
    try {
      j.flush();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== null) throw first;
}

/** Writes what every journal of this process holds pending; failures wait for their journal's next caller. */
function flushQuietlyAll(): void {
  for (const j of [...withPending]) j.flushQuietly();
}

// A process that ends without a syncfs (a CLI command) still leaves its records on disk.
process.on('exit', flushQuietlyAll);

/**
 * Every journal instance of this process by directory (several stores may share one: a publish
 * beside the node's own): a compaction must not remove a file another one appends to, and tells
 * the others which files it removed.
 */
const instances = new Map<string, Set<WeakRef<ObjectJournal>>>();

function othersIn(dir: string, me: ObjectJournal): ObjectJournal[] {
  const refs = instances.get(dir);
  const out: ObjectJournal[] = [];
  for (const ref of refs ?? []) {
    const j = ref.deref();
    if (j === undefined) refs!.delete(ref);
    else if (j !== me) out.push(j);
  }
  return out;
}

/** Index values: file number * 2^40 + the record's offset, one number per object. */
const FILE_UNIT = 2 ** 40;
/** Beside the journals: the bytes the last compaction kept. */
const KEPT_FILE = 'kept-bytes';
/** Read descriptors kept open at most (one per journal file read). */
const OPEN_READERS = 32;

/**
 * Append-only files of object records under objects/journal/. Each instance that writes appends to
 * a file of its own, created on its first write and never shared, so writers need no lock. Records
 * go out many per write(), not one file per object: a release of 20,000 files stored 20,000 object
 * files, each a new inode and a new page of page cache, ~0.1 ms apiece on this project's machines
 * and the largest single cost of a first deploy after the release's own files (bench:seed, cold);
 * one write() per record still cost 12-17 µs each. Records are written in the order appended, so
 * a tree object never reaches the disk before the objects below it.
 * Durability is the caller's, as for the release files: syncFilesystem() (which writes what is
 * pending first) before a release that needs the objects is saved. A record torn by a crash or a
 * full disk ends what is read of its file; the writer never appends after a failed write (it
 * starts a new file), and every object read is checked against its hash by the store.
 */
export class ObjectJournal {
  private readonly dir: string;
  /** Journal file names; an index value's file number is a position here. */
  private readonly names: string[] = [];
  private readonly numbers = new Map<string, number>();
  private readonly index = new Map<string, number>();
  /** Bytes of each file (by number) that hold whole records already indexed. */
  private readonly scanned = new Map<number, number>();
  private readonly readers = new Map<number, number>();
  private own: { file: number; fd: number; size: number } | null = null;
  /** Records appended, not written yet (in order), their bodies by hash, and their size in all. */
  private pending: Buffer[] = [];
  private readonly pendingBodies = new Map<string, Buffer>();
  private pendingBytes = 0;
  private flushScheduled = false;
  /** A deferred write that failed: thrown by the next append or flush. */
  private failure: unknown = null;
  /** Another instance compacted away files this one had indexed (forget): scanned again before use. */
  private compactedAway = false;

  /** `onLost`: hashes whose records a failed write lost (the store forgets them too). */
  constructor(
    objectsDir: string,
    private readonly onLost: (hashes: readonly string[]) => void = () => undefined,
  ) {
    this.dir = join(objectsDir, 'journal');
    let refs = instances.get(this.dir);
    if (!refs) instances.set(this.dir, (refs = new Set()));
    refs.add(new WeakRef(this));
  }

  has(hash: string): boolean {
    this.current();
    return this.index.has(hash);
  }

  /** Indexes the records that other writers (other processes, other instances) appended since the last scan. */
  scan(): void {
    // Another instance of this process may hold records not written yet: they are written first.
    flushQuietlyAll();
    for (const name of listJournals(this.dir)) {
      const file = this.numberOf(name);
      if (file !== this.own?.file) this.scanFile(file);
    }
  }

  private scanFile(file: number): void {
    const from = this.scanned.get(file) ?? 0;
    try {
      const fd = this.reader(file);
      const end = eachFileRecord(fd, from, (hash, at) => {
        this.index.set(hash, file * FILE_UNIT + at);
      });
      this.scanned.set(file, end);
    } catch (err) {
      this.dropReader(file);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw ChunkswarmError.fromSystem(err, `reading the object journal ${join(this.dir, this.names[file]!)}`);
    }
  }

  /**
   * Rewrites the journal files that no writer can still append to (those of processes that ended,
   * and this instance's own) into one new file holding only the records of `keep`, the one copy of
   * each that is read; files of live writers (another process, another store of this process) are
   * left as they are. The new file is durable before the old ones are removed: a crash in between
   * leaves duplicates, never a loss. Other stores of this process are told (readers in other
   * processes find a removed file gone and scan again: ObjectStore.getBytes). The new file is this
   * instance's to append to.
   */
  compact(keep: ReadonlySet<string>): JournalCompaction {
    this.flush();
    this.scan();
    const out: JournalCompaction = { files: 0, bytesBefore: 0, bytesAfter: 0, kept: 0, dropped: 0 };
    const busy = new Set(othersIn(this.dir, this).map((j) => j.ownName()).filter((n): n is string => n !== null));
    const victims = listJournals(this.dir).filter((n) => !busy.has(n) && (writerPid(n) === process.pid || !pidAlive(writerPid(n))));
    if (victims.length === 0) return out;
    if (this.own !== null) {
      closeSync(this.own.fd);
      this.own = null;
    }
    const target = this.create();
    const moved = new Map<string, number>();
    try {
      let batch: Buffer[] = [];
      let batchBytes = 0;
      const write = () => {
        const buf = Buffer.concat(batch, batchBytes);
        for (let done = 0; done < buf.length; ) done += writeSync(target.fd, buf, done, buf.length - done);
        target.size += buf.length;
        batch = [];
        batchBytes = 0;
      };
      for (const name of victims) {
        const file = this.numberOf(name);
        const fd = this.reader(file);
        out.bytesBefore += fstatSync(fd).size;
        eachFileRecord(fd, 0, (hash, at, rec) => {
          // Only the copy the index reads (the newest), once.
          if (!keep.has(hash) || moved.has(hash) || this.index.get(hash) !== file * FILE_UNIT + at) return;
          moved.set(hash, target.file * FILE_UNIT + target.size + batchBytes);
          batch.push(Buffer.from(rec));
          batchBytes += rec.length;
          if (batchBytes >= SCAN_WINDOW) write();
        });
      }
      if (batchBytes > 0) write();
      fdatasyncSync(target.fd);
      const dirFd = openSync(this.dir, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    } catch (err) {
      closeSync(target.fd);
      this.own = null;
      rmSync(join(this.dir, this.names[target.file]!), { force: true });
      throw ChunkswarmError.fromSystem(err, `compacting the object journals in ${this.dir}`);
    }
    const gone = new Set(victims.map((n) => this.numberOf(n)));
    for (const [hash, at] of this.index) {
      if (!gone.has(Math.floor(at / FILE_UNIT))) continue;
      const to = moved.get(hash);
      if (to === undefined) {
        this.index.delete(hash);
        out.dropped++;
      } else this.index.set(hash, to);
    }
    out.kept = moved.size;
    out.bytesAfter = target.size;
    out.files = victims.length;
    for (const name of victims) {
      this.dropReader(this.numberOf(name));
      unlinkSync(join(this.dir, name));
    }
    for (const file of gone) this.scanned.delete(file);
    for (const other of othersIn(this.dir, this)) other.forget(victims);
    // What the next gc weighs the journals against; without it, a node whose kept objects exceed the
    // slack would compact at every release.
    writeFileSync(join(this.dir, KEPT_FILE), `${out.bytesAfter}\n`);
    return out;
  }

  /** The bytes the last compaction kept (0 if none is known): ObjectStore.journalKeptBytes. */
  keptBytes(): number {
    try {
      return Number(readFileSync(join(this.dir, KEPT_FILE), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  }

  /**
   * Files another instance compacted away: what this one indexed in them is found again by a scan
   * before it next answers (not at once: a store that is done, closed, opens nothing again).
   */
  private forget(names: readonly string[]): void {
    const mine = new Set(names.map((n) => this.numbers.get(n)).filter((n): n is number => n !== undefined));
    if (mine.size === 0) return;
    for (const file of mine) {
      this.dropReader(file);
      this.scanned.delete(file);
    }
    for (const [hash, at] of this.index) if (mine.has(Math.floor(at / FILE_UNIT))) this.index.delete(hash);
    this.compactedAway = true;
  }

  /** Scans first if another instance compacted files this one had indexed. */
  private current(): void {
    if (!this.compactedAway) return;
    this.compactedAway = false;
    this.scan();
  }

  /** Bytes of every journal file. */
  bytes(): number {
    let n = 0;
    for (const name of listJournals(this.dir)) n += statSizeOrZero(join(this.dir, name));
    return n;
  }

  /** The file this instance appends to, if it has one. */
  ownName(): string | null {
    return this.own === null ? null : this.names[this.own.file]!;
  }

  /**
   * Writes what is pending and closes this instance's files (a later append or read opens them
   * again). A failed write is kept for the next append or flush, as flushQuietly keeps it.
   */
  close(): void {
    this.flushQuietly();
    if (this.own !== null) {
      closeSync(this.own.fd);
      this.own = null;
    }
    for (const file of [...this.readers.keys()]) this.dropReader(file);
  }

  /**
   * The record's bytes and where they were read (for an error message), or null if the hash is not
   * indexed or its journal file is gone (the object is then fetched again, as a missing one).
   */
  read(hash: string): { bytes: Buffer; where: string } | null {
    this.current();
    const body = this.pendingBodies.get(hash);
    if (body) return { bytes: body, where: 'an object not written to its journal yet' };
    const at = this.index.get(hash);
    if (at === undefined) return null;
    const file = Math.floor(at / FILE_UNIT);
    const offset = at % FILE_UNIT;
    const where = `${join(this.dir, this.names[file]!)} at byte ${offset}`;
    try {
      return { bytes: readRecordBody(this.reader(file), offset), where };
    } catch (err) {
      this.dropReader(file);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw ChunkswarmError.fromSystem(err, `reading object ${hash} from ${where}`);
    }
  }

  /**
   * Adds a record; it is written with the others pending (one write() for many objects: a cold
   * fetch stores 10^5), at once if PENDING_BYTES are pending, else at the end of this turn of the
   * event loop or at the next flushObjectJournals(). Readable at once.
   */
  append(hash: string, bytes: Uint8Array): void {
    this.throwFailure();
    const rec = encodeRecord(hash, bytes);
    const own = this.own ?? this.create();
    this.index.set(hash, own.file * FILE_UNIT + own.size + this.pendingBytes);
    this.pending.push(rec);
    this.pendingBodies.set(hash, rec.subarray(RECORD_HEAD));
    this.pendingBytes += rec.length;
    withPending.add(this);
    if (this.pendingBytes >= PENDING_BYTES) return this.flush();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushQuietly();
    });
  }

  /** Writes the pending records; throws a failure of an earlier, deferred write, or of this one. */
  flush(): void {
    this.throwFailure();
    try {
      this.writePending();
    } finally {
      withPending.delete(this);
    }
  }

  /** Writes the pending records where nobody waits for the outcome: a failure is kept for the next append or flush. */
  flushQuietly(): void {
    if (this.failure !== null) return;
    try {
      this.writePending();
      withPending.delete(this);
    } catch (err) {
      this.failure = err;
    }
  }

  /** A failed write drops what it held (onLost): the file may end in a torn record, and nothing more goes after it. */
  private writePending(): void {
    if (this.pending.length === 0) return;
    const own = this.own!;
    const out = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const hashes = [...this.pendingBodies.keys()];
    this.pending = [];
    this.pendingBodies.clear();
    this.pendingBytes = 0;
    try {
      for (let done = 0; done < out.length; ) done += writeSync(own.fd, out, done, out.length - done);
    } catch (err) {
      closeSync(own.fd);
      this.own = null;
      for (const h of hashes) this.index.delete(h);
      this.onLost(hashes);
      throw err;
    }
    own.size += out.length;
  }

  /** A failed write left nothing pending (it dropped what it held), and nothing is appended until it is thrown. */
  private throwFailure(): void {
    const err = this.failure;
    if (err === null) return;
    this.failure = null;
    withPending.delete(this);
    throw err;
  }

  private create(): { file: number; fd: number; size: number } {
    mkdirSync(this.dir, { recursive: true });
    const name = newJournalName();
    const fd = openSync(join(this.dir, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o644);
    this.own = { file: this.numberOf(name), fd, size: 0 };
    return this.own;
  }

  private numberOf(name: string): number {
    let n = this.numbers.get(name);
    if (n === undefined) {
      n = this.names.push(name) - 1;
      this.numbers.set(name, n);
    }
    return n;
  }

  private reader(file: number): number {
    let fd = this.readers.get(file);
    if (fd === undefined) {
      if (this.readers.size >= OPEN_READERS) this.dropReader(this.readers.keys().next().value!);
      fd = openSync(join(this.dir, this.names[file]!), constants.O_RDONLY | constants.O_NOFOLLOW);
      this.readers.set(file, fd);
    }
    return fd;
  }

  private dropReader(file: number): void {
    const fd = this.readers.get(file);
    if (fd === undefined) return;
    this.readers.delete(file);
    closeSync(fd);
  }
}
