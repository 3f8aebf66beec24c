import { randomBytes } from 'node:crypto';
import { closeSync, constants, fdatasyncSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { pidAlive } from './data-lock.js';

/** What a compaction did: journal files rewritten, their bytes before and after, records kept and dropped. */
export interface JournalCompaction {
  files: number;
  bytesBefore: number;
  bytesAfter: number;
  kept: number;
  dropped: number;
}

/** A record of a journal or a pack: the object's 32-byte hash, its length (4 bytes, big-endian), its bytes. */
export const RECORD_HEAD = 36;

export function encodeRecord(hash: string, body: Uint8Array): Buffer {
  const rec = Buffer.allocUnsafe(RECORD_HEAD + body.length);
  rec.write(hash, 0, 'hex');
  rec.writeUInt32BE(body.length, 32);
  rec.set(body, RECORD_HEAD);
  return rec;
}

/** Calls `each` for every whole record of `bytes`; returns where the whole records end (a torn one is not read). */
export function eachRecord(bytes: Buffer, each: (hash: string, start: number, body: Buffer) => void): number {
  let at = 0;
  while (at + RECORD_HEAD <= bytes.length) {
    const end = at + RECORD_HEAD + bytes.readUInt32BE(at + 32);
    if (end > bytes.length) break;
    each(bytes.toString('hex', at, at + 32), at, bytes.subarray(at + RECORD_HEAD, end));
    at = end;
  }
  return at;
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
const JOURNAL_SUFFIX = '.journal';
/** What a record read asks for at first: the head and, for most objects, the whole body. */
const FIRST_READ_BYTES = 4096;
/** What a scan or a compaction reads of a journal at a time: a long-lived node's file may hold gigabytes. */
const SCAN_WINDOW = 8 << 20;
/** Beside the journals: the bytes the last compaction kept. */
const KEPT_FILE = 'kept-bytes';
const firstRead = Buffer.allocUnsafe(FIRST_READ_BYTES);
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
    for (const name of this.list()) {
      const file = this.numberOf(name);
      if (file !== this.own?.file) this.scanFile(file);
    }
  }

  /** The journal files, oldest first: a later record of a hash wins (an object fetched again after damage is appended to a newer file). */
  private list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => n.endsWith(JOURNAL_SUFFIX)).sort((a, b) => createdAt(a) - createdAt(b) || (a < b ? -1 : 1));
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
    const victims = this.list().filter((n) => !busy.has(n) && (writerPid(n) === process.pid || !pidAlive(writerPid(n))));
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
    for (const name of this.list()) n += statSizeOrZero(join(this.dir, name));
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
      const fd = this.reader(file);
      // Most objects are small: one read takes the head and the body (a peer's cold fetch reads 10^5).
      const got = readSync(fd, firstRead, 0, FIRST_READ_BYTES, offset);
      if (got < RECORD_HEAD) readFully(fd, firstRead.subarray(got, RECORD_HEAD), offset + got);
      const body = Buffer.allocUnsafe(firstRead.readUInt32BE(32));
      const have = Math.min(body.length, Math.max(0, got - RECORD_HEAD));
      firstRead.copy(body, 0, RECORD_HEAD, RECORD_HEAD + have);
      if (have < body.length) readFully(fd, body.subarray(have), offset + RECORD_HEAD + have);
      return { bytes: body, where };
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
    // Microseconds: two journals made one after the other in the same millisecond still sort in order.
    const createdUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
    const name = `${process.pid}-${createdUs}-${randomBytes(4).toString('hex')}${JOURNAL_SUFFIX}`;
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

/** The creation time a journal's name carries (`<pid>-<µs>-<random>.journal`); 0 for another name. */
function createdAt(name: string): number {
  return Number(name.split('-')[1]) || 0;
}

/** Bytes of a file, 0 if there is none. */
export function statSizeOrZero(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

/** The pid of the process that wrote a journal (its name's first field); 0 for another name. */
function writerPid(name: string): number {
  return Number(name.split('-')[0]) || 0;
}

/**
 * Calls `each` for every whole record of an open journal from byte `from`, with its offset and its
 * bytes (a view, valid during the call), reading a window at a time; returns where the whole
 * records end (a torn one at the end is not read).
 */
export function eachFileRecord(fd: number, from: number, each: (hash: string, at: number, rec: Buffer) => void, windowBytes = SCAN_WINDOW): number {
  const size = fstatSync(fd).size;
  let at = from;
  let window = Buffer.allocUnsafe(Math.max(RECORD_HEAD, Math.min(windowBytes, size - from)));
  while (at + RECORD_HEAD <= size) {
    const view = window.subarray(0, Math.min(window.length, size - at));
    readFully(fd, view, at);
    const base = at;
    const whole = eachRecord(view, (hash, start, body) => each(hash, base + start, view.subarray(start, start + RECORD_HEAD + body.length)));
    if (whole > 0) {
      at += whole;
      continue;
    }
    // A record larger than the window, or a torn one at the end.
    const need = RECORD_HEAD + view.readUInt32BE(32);
    if (at + need > size) break;
    window = Buffer.allocUnsafe(need);
  }
  return at;
}

/** A short read means the file is shorter than its index says: an error, not a partial object. */
function readFully(fd: number, into: Buffer, position: number): void {
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw Object.assign(new Error(`the file ends ${into.length - done} bytes early`), { code: 'E_SHORT' });
    done += n;
  }
}
