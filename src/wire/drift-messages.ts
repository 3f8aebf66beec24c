import { ChunkswarmError } from '../core/index.js';

/**
 * The two extension messages that carry a preserved drift record from the node that holds it to
 * the one that asks (`chunkswarm drift pull`): a request naming the record, and one answer whose
 * bytes the session encodes (src/fleet/drift-bundle.ts) and bounds by its own size limit.
 */
export type DriftMessage =
  | { type: 'getDrift'; id: number; record: string }
  | { type: 'drift'; id: number; bytes: Uint8Array };

export const DRIFT_TYPE = { getDrift: 7, drift: 8 } as const;
/** A drift record id is short (`20261202T013300Z-4-2`); anything longer is no request of ours. */
const MAX_RECORD_ID = 64;

export function encodeDriftMessage(m: DriftMessage): Uint8Array {
  const tail = m.type === 'getDrift' ? Buffer.from(m.record, 'utf8') : m.bytes;
  const out = new Uint8Array(5 + tail.length);
  out[0] = DRIFT_TYPE[m.type];
  new DataView(out.buffer).setUint32(1, m.id);
  out.set(tail, 5);
  return out;
}

/** Throws E_PROTOCOL; `buf[0]` is one of DRIFT_TYPE. */
export function decodeDriftMessage(buf: Uint8Array): DriftMessage {
  if (buf.length < 5) throw new ChunkswarmError('E_PROTOCOL', `malformed chunkswarm message: drift message of ${buf.length} bytes is shorter than 5`);
  const id = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(1);
  const tail = buf.subarray(5);
  if (buf[0] === DRIFT_TYPE.drift) return { type: 'drift', id, bytes: tail };
  if (tail.length > MAX_RECORD_ID) throw new ChunkswarmError('E_PROTOCOL', `malformed chunkswarm message: drift record id of ${tail.length} bytes`);
  let record: string;
  try {
    record = new TextDecoder('utf-8', { fatal: true }).decode(tail);
  } catch {
    throw new ChunkswarmError('E_PROTOCOL', 'malformed chunkswarm message: drift record id is not UTF-8');
  }
  return { type: 'getDrift', id, record };
}
