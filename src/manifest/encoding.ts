import * as crypto from 'node:crypto';
import { ChunkswarmError, asChunkHash, asObjectHash, asReleaseId, type ObjectHash, type ReleaseId } from '../core/index.js';
import { Reader, Writer } from './binary.js';
import { checkDecodedFile, checkDecodedTree, checkFile, checkReleaseBody, checkTree } from './validate.js';
import {
  DEFAULT_LIMITS,
  type ChunkRef,
  type DecodeLimits,
  type EntryType,
  type FileObject,
  type ManifestObject,
  type ReleaseBody,
  type SignedRelease,
  type TreeEntry,
  type TreeObject,
} from './types.js';

/**
 * The one canonical encoding (format version 1): "CSW", version, kind, then the kind's fields.
 * Every valid object has exactly one encoding, so hashes of encodings identify objects.
 */
const MAGIC = [0x43, 0x53, 0x57] as const;
const FORMAT_VERSION = 0x01;
const KIND = { file: 0x01, tree: 0x02, release: 0x03, signed: 0x04 } as const;
const KIND_NAME: Record<number, string> = { 1: 'file object', 2: 'tree object', 3: 'release body', 4: 'signed release' };

const ENTRY_TYPE_CODE: Record<EntryType, number> = { file: 1, dir: 2, symlink: 3 };
const ENTRY_TYPES: Record<number, EntryType> = { 1: 'file', 2: 'dir', 3: 'symlink' };
const FLAG_OWNER = 0x01;
const FLAG_LINK = 0x02;

const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/**
 * SHA-256 in hex. Node's one-shot crypto.hash (20.12 and later) makes no Hash object: 1.7 µs
 * against 2.9 µs for a 1.5 KB input here, and a release of 10^5 small files hashes as many objects
 * and chunks, on every node.
 */
export const hashBytes: (bytes: Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (bytes) => crypto.hash('sha256', bytes, 'hex')
    : (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

export function objectHash(bytes: Uint8Array): ObjectHash {
  return asObjectHash(hashBytes(bytes));
}

/** A release is named by its body, so the id is known before signing and does not depend on the signature bytes. */
export function releaseId(body: ReleaseBody): ReleaseId {
  return asReleaseId(hashBytes(encodeReleaseBody(body)));
}

function begin(kind: number): Writer {
  const w = new Writer();
  for (const b of MAGIC) w.u8(b);
  w.u8(FORMAT_VERSION);
  w.u8(kind);
  return w;
}

/** Refuses to produce what a default-limits decoder would refuse to read. */
function done(w: Writer): Uint8Array {
  const out = w.finish();
  if (out.length > DEFAULT_LIMITS.maxEncodedBytes) {
    throw ChunkswarmError.tooLarge('encoded object size', out.length, DEFAULT_LIMITS.maxEncodedBytes);
  }
  return out;
}

function open(bytes: Uint8Array, limits: DecodeLimits): { r: Reader; kind: number } {
  if (!(bytes instanceof Uint8Array)) throw ChunkswarmError.badObject('input is not a byte array');
  if (bytes.length > limits.maxEncodedBytes) throw ChunkswarmError.tooLarge('encoded object size', bytes.length, limits.maxEncodedBytes);
  const r = new Reader(bytes);
  for (const b of MAGIC) {
    if (r.u8('magic') !== b) throw ChunkswarmError.badObject('not a chunkswarm object (bad magic bytes)');
  }
  const version = r.u8('format version');
  if (version !== FORMAT_VERSION) throw ChunkswarmError.badObject(`unsupported format version ${version}`);
  return { r, kind: r.u8('object kind') };
}

function expectKind(got: number, want: number): void {
  if (got !== want) {
    throw ChunkswarmError.badObject(`expected a ${KIND_NAME[want]}, found ${KIND_NAME[got] ?? `unknown kind ${got}`}`);
  }
}

export function encodeObject(o: ManifestObject): Uint8Array {
  if (o?.kind === 'file') {
    checkFile(o, DEFAULT_LIMITS);
    const w = begin(KIND.file);
    w.uint(o.size);
    w.uint(o.chunks.length);
    for (const c of o.chunks) {
      w.hash(c.hash);
      w.uint(c.size);
    }
    return done(w);
  }
  if (o?.kind === 'tree') {
    checkTree(o, DEFAULT_LIMITS);
    const w = begin(KIND.tree);
    w.uint(o.entries.length);
    for (const e of o.entries) writeEntry(w, e);
    return done(w);
  }
  throw ChunkswarmError.badObject(`cannot encode an object of kind ${String((o as { kind?: unknown })?.kind)}`);
}

/**
 * Whether writeEntry writes the same bytes for both entries, without writing them: a tree whose
 * entries all compare equal to a stored tree's is that tree, hash and all (a publish re-encodes
 * only the directories that changed). Kept beside writeEntry, field for field.
 */
export function sameEncoding(a: TreeEntry, b: TreeEntry): boolean {
  return a.name === b.name && a.type === b.type && a.mode === b.mode && a.mtime === b.mtime &&
    a.uid === b.uid && a.gid === b.gid && a.link === b.link &&
    (a.type === 'symlink' ? a.target === b.target : a.hash === b.hash);
}

function writeEntry(w: Writer, e: TreeEntry): void {
  w.string(e.name);
  w.u8(ENTRY_TYPE_CODE[e.type]);
  w.uint(e.mode);
  w.uint(e.mtime);
  const owner = e.uid !== undefined;
  const link = e.link !== undefined;
  w.u8((owner ? FLAG_OWNER : 0) | (link ? FLAG_LINK : 0));
  if (owner) {
    w.uint(e.uid!);
    w.uint(e.gid!);
  }
  if (link) w.uint(e.link!);
  if (e.type === 'symlink') w.string(e.target!);
  else w.hash(e.hash!);
}

export function decodeObject(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): ManifestObject {
  const { r, kind } = open(bytes, limits);
  let o: ManifestObject;
  if (kind === KIND.file) {
    o = readFile(r, limits);
    checkDecodedFile(o, limits);
  } else if (kind === KIND.tree) {
    o = readTree(r, limits);
    checkDecodedTree(o, limits);
  } else {
    throw ChunkswarmError.badObject(`expected a file or tree object, found ${KIND_NAME[kind] ?? `unknown kind ${kind}`}`);
  }
  r.end(KIND_NAME[kind]!);
  return o;
}

function readFile(r: Reader, limits: DecodeLimits): FileObject {
  const size = r.uint('file size');
  const n = r.uint('chunk count');
  if (n > limits.maxChunks) throw ChunkswarmError.tooLarge('chunk count', n, limits.maxChunks);
  // Sized up front: an array grown by push keeps room for 16 more (~130 bytes a file of one chunk).
  const chunks = new Array<ChunkRef>(n);
  for (let i = 0; i < n; i++) {
    const hash = asChunkHash(r.hash('chunk hash'));
    chunks[i] = { hash, size: r.uint('chunk size') };
  }
  return { kind: 'file', size, chunks };
}

function readTree(r: Reader, limits: DecodeLimits): TreeObject {
  const n = r.uint('entry count');
  if (n > limits.maxEntries) throw ChunkswarmError.tooLarge('entry count', n, limits.maxEntries);
  const entries: TreeEntry[] = [];
  for (let i = 0; i < n; i++) entries.push(readEntry(r));
  return { kind: 'tree', entries };
}

function readEntry(r: Reader): TreeEntry {
  const name = r.string('entry name');
  const code = r.u8('entry type');
  const type = ENTRY_TYPES[code];
  if (type === undefined) throw ChunkswarmError.badObject(`entry ${JSON.stringify(name)}: unknown type code ${code}`);
  const mode = r.uint('entry mode');
  const mtime = r.uint('entry mtime');
  const flags = r.u8('entry flags');
  if ((flags & ~(FLAG_OWNER | FLAG_LINK)) !== 0) {
    throw ChunkswarmError.badObject(`entry ${JSON.stringify(name)}: unknown flags 0x${flags.toString(16)}`);
  }
  const uid = flags & FLAG_OWNER ? r.uint('entry uid') : undefined;
  const gid = flags & FLAG_OWNER ? r.uint('entry gid') : undefined;
  // Checked here as well as in checkEntry so the error names the real problem, not a misparse after it.
  if (flags & FLAG_LINK && type !== 'file') throw ChunkswarmError.badObject(`entry ${JSON.stringify(name)}: only files can be hard links`);
  const link = flags & FLAG_LINK ? r.uint('entry link group') : undefined;
  // One literal per shape, every field in it: a property added to an object after its literal goes
  // to a separate backing store (~40 bytes more per entry, 10^5 entries in a release).
  let e: TreeEntry;
  if (type === 'symlink') {
    const target = r.string('symlink target');
    e = uid === undefined ? { name, type, mode, mtime, target } : { name, type, mode, mtime, uid, gid: gid!, target };
  } else {
    const hash = asObjectHash(r.hash('entry hash'));
    e = uid === undefined ? { name, type, mode, mtime, hash } : { name, type, mode, mtime, uid, gid: gid!, hash };
  }
  if (link !== undefined) e.link = link;
  return e;
}

export function encodeReleaseBody(body: ReleaseBody): Uint8Array {
  if (body?.kind !== 'release') throw ChunkswarmError.badObject('not a release body');
  checkReleaseBody(body, DEFAULT_LIMITS);
  const w = begin(KIND.release);
  w.string(body.cluster);
  w.uint(body.version);
  w.hash(body.root);
  w.u8(body.parent === null ? 0 : 1);
  if (body.parent !== null) w.hash(body.parent);
  w.uint(body.created);
  w.string(body.note);
  return done(w);
}

export function decodeReleaseBody(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): ReleaseBody {
  const { r, kind } = open(bytes, limits);
  expectKind(kind, KIND.release);
  const cluster = r.string('release cluster');
  const version = r.uint('release version');
  const root = asObjectHash(r.hash('release root'));
  const hasParent = r.u8('release parent flag');
  if (hasParent > 1) throw ChunkswarmError.badObject(`release parent flag is ${hasParent}, not 0 or 1`);
  const parent = hasParent === 1 ? asReleaseId(r.hash('release parent')) : null;
  const created = r.uint('release creation time');
  const note = r.string('release note');
  r.end('release body');
  const body: ReleaseBody = { kind: 'release', cluster, version, root, parent, created, note };
  checkReleaseBody(body, limits);
  return body;
}

export function encodeSignedRelease(s: SignedRelease): Uint8Array {
  checkKeyBytes(s?.publicKey, PUBLIC_KEY_BYTES, 'publisher public key');
  checkKeyBytes(s.signature, SIGNATURE_BYTES, 'release signature');
  const body = encodeReleaseBody(s.body);
  const w = begin(KIND.signed);
  w.bytes(body);
  w.raw(s.publicKey);
  w.raw(s.signature);
  return done(w);
}

export function decodeSignedRelease(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): SignedRelease {
  const { r, kind } = open(bytes, limits);
  expectKind(kind, KIND.signed);
  const body = decodeReleaseBody(r.bytes('release body'), limits);
  // Copies: the result must not pin (or change with) the caller's possibly large input buffer.
  const publicKey = new Uint8Array(r.raw(PUBLIC_KEY_BYTES, 'publisher public key'));
  const signature = new Uint8Array(r.raw(SIGNATURE_BYTES, 'release signature'));
  r.end('signed release');
  return { body, publicKey, signature };
}

function checkKeyBytes(v: unknown, length: number, what: string): void {
  if (!(v instanceof Uint8Array) || v.length !== length) throw ChunkswarmError.badObject(`${what} must be ${length} bytes`);
}
