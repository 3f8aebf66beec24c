import { Bitfield, ChunkswarmError, asObjectHash, asReleaseId, isHex64, type ObjectHash, type ReleaseId } from '../core/index.js';
import { DRIFT_TYPE, decodeDriftMessage, encodeDriftMessage, type DriftMessage } from './drift-messages.js';

/** A node's self-description for `chunkswarm status`; the session defines and validates the fields. */
export type NodeStatus = Record<string, unknown>;

/**
 * The payloads of our one BEP-10 extension. Framing: one type byte, then fixed big-endian fields,
 * then a variable tail that runs to the end of the payload (BEP-10 already gives the length).
 */
export type ExtMessage =
  | { type: 'head'; release: Uint8Array }
  | { type: 'getObject'; id: number; hash: ObjectHash; offset: number }
  | { type: 'object'; id: number; total: number; offset: number; bytes: Uint8Array }
  | { type: 'noObject'; id: number }
  | { type: 'getObjects'; id: number; hashes: ObjectHash[] }
  /** The answers to a getObjects, in its order (null: not here); fewer than asked when the rest did not fit. */
  | { type: 'objects'; id: number; items: Array<Uint8Array | null> }
  | { type: 'space'; release: ReleaseId; have: Bitfield }
  | { type: 'status'; status: NodeStatus }
  /** How many peers unchoke the sender now: its uploaders rank it by that (Choker.peerUnchokers). */
  | { type: 'unchokers'; count: number }
  | DriftMessage;

const TYPE = { head: 1, getObject: 2, object: 3, noObject: 4, space: 5, status: 6, getObjects: 9, objects: 10, unchokers: 11 } as const;
/** The largest count an unchokers message carries (more than any node's connections). */
export const MAX_UNCHOKERS = 0xffff;
/** Objects asked in one getObjects: a release's directory of files goes in a few messages, not one each. */
export const MAX_BATCH_OBJECTS = 256;
/** An objects answer's item: its length, or NO_ITEM for an object the peer does not have. */
const NO_ITEM = 0xffffffff;
/** How a space message carries its bitfield: the all/none forms keep seeders' and newcomers' messages tiny. */
const BITS = { raw: 0, all: 1, none: 2 } as const;
const HASH_BYTES = 32;

export function encodeMessage(m: ExtMessage): Uint8Array {
  switch (m.type) {
    case 'head':
      return frame(TYPE.head, 0, m.release);
    case 'getObject':
      return frame(TYPE.getObject, 8 + HASH_BYTES, null, (v, b) => {
        v.setUint32(1, m.id);
        v.setUint32(5, m.offset);
        b.set(hashToBytes(m.hash, 'object hash'), 9);
      });
    case 'object':
      return frame(TYPE.object, 12, m.bytes, (v) => {
        v.setUint32(1, m.id);
        v.setUint32(5, m.total);
        v.setUint32(9, m.offset);
      });
    case 'noObject':
      return frame(TYPE.noObject, 4, null, (v) => v.setUint32(1, m.id));
    case 'getObjects': {
      if (m.hashes.length > MAX_BATCH_OBJECTS) throw new ChunkswarmError('E_USAGE', `at most ${MAX_BATCH_OBJECTS} objects per request, got ${m.hashes.length}`);
      return frame(TYPE.getObjects, 6 + HASH_BYTES * m.hashes.length, null, (v, b) => {
        v.setUint32(1, m.id);
        v.setUint16(5, m.hashes.length);
        m.hashes.forEach((h, i) => b.set(hashToBytes(h, 'object hash'), 7 + HASH_BYTES * i));
      });
    }
    case 'objects': {
      let size = 6;
      for (const item of m.items) size += 4 + (item?.length ?? 0);
      return frame(TYPE.objects, size, null, (v, b) => {
        v.setUint32(1, m.id);
        v.setUint16(5, m.items.length);
        let at = 7;
        for (const item of m.items) {
          v.setUint32(at, item === null ? NO_ITEM : item.length);
          if (item !== null) b.set(item, at + 4);
          at += 4 + (item?.length ?? 0);
        }
      });
    }
    case 'space': {
      const set = m.have.count();
      const mode = set === m.have.length ? BITS.all : set === 0 ? BITS.none : BITS.raw;
      return frame(TYPE.space, HASH_BYTES + 5, mode === BITS.raw ? m.have.bytes : null, (v, b) => {
        b.set(hashToBytes(m.release, 'release id'), 1);
        v.setUint32(1 + HASH_BYTES, m.have.length);
        v.setUint8(5 + HASH_BYTES, mode);
      });
    }
    case 'status':
      return frame(TYPE.status, 0, Buffer.from(JSON.stringify(m.status), 'utf8'));
    case 'unchokers':
      if (!Number.isInteger(m.count) || m.count < 0 || m.count > MAX_UNCHOKERS) throw new ChunkswarmError('E_USAGE', `unchokers count must be an integer from 0 to ${MAX_UNCHOKERS}, got ${m.count}`);
      return frame(TYPE.unchokers, 2, null, (v) => v.setUint16(1, m.count));
    case 'getDrift':
    case 'drift':
      return encodeDriftMessage(m);
  }
}

/** Throws E_PROTOCOL with what was wrong; `maxPieces` bounds the bitfield a peer can make us allocate. */
export function decodeMessage(buf: Uint8Array, maxPieces: number): ExtMessage {
  if (buf.length < 1) throw malformed('empty message');
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const need = (n: number, what: string): void => {
    if (buf.length < n) throw malformed(`${what} message of ${buf.length} bytes is shorter than ${n}`);
  };
  const exact = (n: number, what: string): void => {
    if (buf.length !== n) throw malformed(`${what} message is ${buf.length} bytes, expected ${n}`);
  };
  switch (buf[0]) {
    case TYPE.head:
      need(2, 'head');
      return { type: 'head', release: buf.subarray(1) };
    case TYPE.getObject:
      exact(9 + HASH_BYTES, 'getObject');
      return { type: 'getObject', id: v.getUint32(1), offset: v.getUint32(5), hash: asObjectHash(hex(buf.subarray(9))) };
    case TYPE.object: {
      need(13, 'object');
      const m = { type: 'object' as const, id: v.getUint32(1), total: v.getUint32(5), offset: v.getUint32(9), bytes: buf.subarray(13) };
      if (m.offset + m.bytes.length > m.total) throw malformed(`object part ${m.offset}+${m.bytes.length} runs past its total of ${m.total} bytes`);
      return m;
    }
    case TYPE.noObject:
      exact(5, 'noObject');
      return { type: 'noObject', id: v.getUint32(1) };
    case TYPE.getObjects: {
      need(7, 'getObjects');
      const count = v.getUint16(5);
      if (count > MAX_BATCH_OBJECTS) throw malformed(`getObjects of ${count} objects is above the limit of ${MAX_BATCH_OBJECTS}`);
      exact(7 + HASH_BYTES * count, 'getObjects');
      const hashes: ObjectHash[] = [];
      for (let i = 0; i < count; i++) hashes.push(asObjectHash(hex(buf.subarray(7 + HASH_BYTES * i, 7 + HASH_BYTES * (i + 1)))));
      return { type: 'getObjects', id: v.getUint32(1), hashes };
    }
    case TYPE.objects:
      return decodeObjects(buf, v);
    case TYPE.space:
      return decodeSpace(buf, v, maxPieces);
    case TYPE.status:
      return { type: 'status', status: decodeStatus(buf.subarray(1)) };
    case TYPE.unchokers:
      exact(3, 'unchokers');
      return { type: 'unchokers', count: v.getUint16(1) };
    case DRIFT_TYPE.getDrift:
    case DRIFT_TYPE.drift:
      return decodeDriftMessage(buf);
    default:
      throw malformed(`unknown message type ${buf[0]}`);
  }
}

function decodeObjects(buf: Uint8Array, v: DataView): ExtMessage {
  if (buf.length < 7) throw malformed(`objects message of ${buf.length} bytes is shorter than 7`);
  const count = v.getUint16(5);
  if (count > MAX_BATCH_OBJECTS) throw malformed(`objects answer of ${count} items is above the limit of ${MAX_BATCH_OBJECTS}`);
  const items: Array<Uint8Array | null> = [];
  let at = 7;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) throw malformed(`objects answer ends inside item ${i} of ${count}`);
    const len = v.getUint32(at);
    at += 4;
    if (len === NO_ITEM) {
      items.push(null);
      continue;
    }
    if (at + len > buf.length) throw malformed(`objects answer's item ${i} of ${len} bytes runs past its end`);
    items.push(buf.subarray(at, at + len));
    at += len;
  }
  if (at !== buf.length) throw malformed(`objects answer has ${buf.length - at} bytes after its ${count} items`);
  return { type: 'objects', id: v.getUint32(1), items };
}

function decodeSpace(buf: Uint8Array, v: DataView, maxPieces: number): ExtMessage {
  const fixed = 1 + HASH_BYTES + 5;
  if (buf.length < fixed) throw malformed(`space message of ${buf.length} bytes is shorter than ${fixed}`);
  const release = asReleaseId(hex(buf.subarray(1, 1 + HASH_BYTES)));
  const pieces = v.getUint32(1 + HASH_BYTES);
  const mode = v.getUint8(5 + HASH_BYTES);
  if (pieces > maxPieces) throw malformed(`space of ${pieces} pieces is above the limit of ${maxPieces}`);
  const tail = buf.subarray(fixed);
  if (mode !== BITS.raw && tail.length !== 0) throw malformed('space message has bytes after an all/none bitfield');
  try {
    if (mode === BITS.all) return { type: 'space', release, have: Bitfield.full(pieces) };
    if (mode === BITS.none) return { type: 'space', release, have: new Bitfield(pieces) };
    if (mode === BITS.raw) return { type: 'space', release, have: new Bitfield(pieces, tail) };
  } catch (err) {
    throw malformed((err as Error).message);
  }
  throw malformed(`unknown bitfield encoding ${mode}`);
}

function decodeStatus(bytes: Uint8Array): NodeStatus {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw malformed('status is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('status is not a JSON object');
  return value as NodeStatus;
}

function frame(type: number, fixed: number, tail: Uint8Array | null, fill?: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const out = new Uint8Array(1 + fixed + (tail?.length ?? 0));
  out[0] = type;
  fill?.(new DataView(out.buffer), out);
  if (tail) out.set(tail, 1 + fixed);
  return out;
}

function hashToBytes(hash: string, what: string): Uint8Array {
  if (!isHex64(hash)) throw new ChunkswarmError('E_USAGE', `${what} must be 64 lowercase hex characters, got ${JSON.stringify(hash)}`);
  return Buffer.from(hash, 'hex');
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function malformed(why: string): ChunkswarmError {
  return new ChunkswarmError('E_PROTOCOL', `malformed chunkswarm message: ${why}`);
}
