import { randomBytes } from 'node:crypto';
import { fstatSync, readdirSync, readSync } from 'node:fs';

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

const JOURNAL_SUFFIX = '.journal';
/** What a record read asks for at first: the head and, for most objects, the whole body. */
const FIRST_READ_BYTES = 4096;
/** What a scan or a compaction reads of a journal at a time: a long-lived node's file may hold gigabytes. */
export const SCAN_WINDOW = 8 << 20;
const firstRead = Buffer.allocUnsafe(FIRST_READ_BYTES);

/** A name for a new journal file of this process: `<pid>-<µs>-<random>.journal`. */
export function newJournalName(): string {
  // Microseconds: two journals made one after the other in the same millisecond still sort in order.
  const createdUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
  return `${process.pid}-${createdUs}-${randomBytes(4).toString('hex')}${JOURNAL_SUFFIX}`;
}

/** The journal files in `dir`, oldest first: a later record of a hash wins (an object fetched again after damage is appended to a newer file). */
export function listJournals(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith(JOURNAL_SUFFIX)).sort((a, b) => createdAt(a) - createdAt(b) || (a < b ? -1 : 1));
}

/** The creation time a journal's name carries (`<pid>-<µs>-<random>.journal`); 0 for another name. */
function createdAt(name: string): number {
  return Number(name.split('-')[1]) || 0;
}

/** The pid of the process that wrote a journal (its name's first field); 0 for another name. */
export function writerPid(name: string): number {
  return Number(name.split('-')[0]) || 0;
}

/** The body of the record at `offset` of an open journal. */
export function readRecordBody(fd: number, offset: number): Buffer {
  // Most objects are small: one read takes the head and the body (a peer's cold fetch reads 10^5).
  const got = readSync(fd, firstRead, 0, FIRST_READ_BYTES, offset);
  if (got < RECORD_HEAD) readFully(fd, firstRead.subarray(got, RECORD_HEAD), offset + got);
  const body = Buffer.allocUnsafe(firstRead.readUInt32BE(32));
  const have = Math.min(body.length, Math.max(0, got - RECORD_HEAD));
  firstRead.copy(body, 0, RECORD_HEAD, RECORD_HEAD + have);
  if (have < body.length) readFully(fd, body.subarray(have), offset + RECORD_HEAD + have);
  return body;
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
