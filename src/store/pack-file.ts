import { hashBytes } from '../manifest/index.js';
import { eachRecord, encodeRecord, RECORD_HEAD } from './journal-records.js';

/**
 * The pack file format: this, the records (as the object journal writes them), and the SHA-256
 * of both. A pack is checked whole, by one hash of the file instead of one per object.
 */
const PACK_MAGIC = Buffer.from('CSPACK2\n');
const PACK_SUM_BYTES = 32;

/**
 * A pack's records, checked whole when read, or just written. Each record starts with its hash:
 * buildPack reads them there (an index of the hashes beside the records held a second copy of
 * each, as a string: ~9 MB for a pack of 10^5 objects, for one walk through them per release).
 */
export interface PackRecords {
  name: string;
  records: Buffer;
}

/** The records of a pack file's bytes, or null if they are not a whole, valid pack. */
export function packRecordsOf(bytes: Buffer): Buffer | null {
  const end = bytes.length - PACK_SUM_BYTES;
  if (end < PACK_MAGIC.length || !bytes.subarray(0, PACK_MAGIC.length).equals(PACK_MAGIC) || hashBytes(bytes.subarray(0, end)) !== bytes.toString('hex', end)) {
    return null;
  }
  return bytes.subarray(PACK_MAGIC.length, end);
}

/**
 * The bytes of pack `name` holding the objects `wanted`, with its records: those `from` holds
 * (a release sharing most of them) copied as they are, in runs, one view per run rather than one
 * per record; the rest encoded by `body`. Null if `body` has none for one of them.
 */
export function buildPack(
  name: string,
  wanted: Set<string>,
  from: PackRecords | null,
  body: (hash: string) => Uint8Array | null,
): { bytes: Buffer; pack: PackRecords } | null {
  const parts: Uint8Array[] = [PACK_MAGIC];
  let size = 0;
  if (from !== null) {
    let run = -1;
    const end = eachRecord(from.records, (hash, start, body) => {
      if (wanted.delete(hash)) {
        if (run < 0) run = start;
        size += RECORD_HEAD + body.length;
      } else if (run >= 0) {
        parts.push(from.records.subarray(run, start));
        run = -1;
      }
    });
    if (run >= 0) parts.push(from.records.subarray(run, end));
  }
  for (const hash of wanted) {
    const b = body(hash);
    if (b === null) return null;
    const record = encodeRecord(hash, b);
    parts.push(record);
    size += record.length;
  }
  // One copy of the records, with room for their checksum at the end.
  const end = PACK_MAGIC.length + size;
  const bytes = Buffer.concat(parts, end + PACK_SUM_BYTES);
  bytes.write(hashBytes(bytes.subarray(0, end)), end, 'hex');
  return { bytes, pack: { name, records: bytes.subarray(PACK_MAGIC.length, end) } };
}
