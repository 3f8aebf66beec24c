import { hashBytes } from '../manifest/index.js';
import { eachRecord, encodeRecord, RECORD_HEAD } from './journal-records.js';

/**
 * The pack file format: this, the records (as the object journal writes them), and the SHA-256
 * of both. A pack is checked whole, by one hash of the file instead of one per object.
 */
const PACK_MAGIC = Buffer.from('CSPACK2\n');
const PACK_SUM_BYTES = 32;

/** A pack's records (checked whole when read, or just written) with each one's hash and where it ends. */
export interface PackIndex {
  name: string;
  records: Buffer;
  hashes: string[];
  ends: number[];
}

/** The records of a pack file's bytes, or null if they are not a whole, valid pack. */
export function packRecordsOf(bytes: Buffer): Buffer | null {
  const end = bytes.length - PACK_SUM_BYTES;
  if (end < PACK_MAGIC.length || !bytes.subarray(0, PACK_MAGIC.length).equals(PACK_MAGIC) || hashBytes(bytes.subarray(0, end)) !== bytes.toString('hex', end)) {
    return null;
  }
  return bytes.subarray(PACK_MAGIC.length, end);
}

/** The index of a pack's records, handing each record to `each` on the way. */
export function indexRecords(name: string, records: Buffer, each?: (hash: string, body: Buffer) => void): PackIndex {
  const index: PackIndex = { name, records, hashes: [], ends: [] };
  eachRecord(records, (hash, start, body) => {
    index.hashes.push(hash);
    index.ends.push(start + RECORD_HEAD + body.length);
    each?.(hash, body);
  });
  return index;
}

/**
 * The bytes of pack `name` holding the objects `wanted`, with its index: the records `from` holds
 * (a release sharing most of them) copied as they are, in runs, one view per run rather than one
 * per record; the rest encoded by `body`. Null if `body` has none for one of them.
 */
export function buildPack(
  name: string,
  wanted: Set<string>,
  from: PackIndex | null,
  body: (hash: string) => Uint8Array | null,
): { bytes: Buffer; index: PackIndex } | null {
  const parts: Uint8Array[] = [PACK_MAGIC];
  const hashes: string[] = [];
  const ends: number[] = [];
  let size = 0;
  if (from !== null) {
    let run = -1;
    let at = 0;
    for (let i = 0; i < from.hashes.length; i++) {
      const start = at;
      at = from.ends[i]!;
      if (wanted.delete(from.hashes[i]!)) {
        if (run < 0) run = start;
        hashes.push(from.hashes[i]!);
        ends.push((size += at - start));
      } else if (run >= 0) {
        parts.push(from.records.subarray(run, start));
        run = -1;
      }
    }
    if (run >= 0) parts.push(from.records.subarray(run, at));
  }
  for (const hash of wanted) {
    const b = body(hash);
    if (b === null) return null;
    const record = encodeRecord(hash, b);
    parts.push(record);
    hashes.push(hash);
    ends.push((size += record.length));
  }
  // One copy of the records, with room for their checksum at the end.
  const end = PACK_MAGIC.length + size;
  const bytes = Buffer.concat(parts, end + PACK_SUM_BYTES);
  bytes.write(hashBytes(bytes.subarray(0, end)), end, 'hex');
  return { bytes, index: { name, records: bytes.subarray(PACK_MAGIC.length, end), hashes, ends } };
}
