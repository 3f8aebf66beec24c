import { ChunkswarmError, isHex64 } from '../core/index.js';
import {
  CHUNK_MAX,
  DEFAULT_LIMITS,
  type DecodeLimits,
  type FileObject,
  type ReleaseBody,
  type TreeEntry,
  type TreeObject,
} from './types.js';

/**
 * Semantic rules of manifest objects. The encoder runs them before writing and the decoder after
 * parsing, so nothing invalid is ever produced or accepted, and every valid object round-trips.
 */

export const MAX_MODE = 0o7777;

/** A name is one path component that cannot escape its directory or be mangled by the file system. */
export function validateName(name: string, limits: DecodeLimits = DEFAULT_LIMITS): void {
  if (typeof name !== 'string' || name === '') throw ChunkswarmError.unsafePath(String(name), 'empty name');
  if (name === '.' || name === '..') throw ChunkswarmError.unsafePath(name, 'names "." and ".." are not allowed');
  if (name.includes('/')) throw ChunkswarmError.unsafePath(name, 'a name cannot contain "/"');
  if (name.includes('\0')) throw ChunkswarmError.unsafePath(name, 'a name cannot contain NUL');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > limits.maxNameBytes) {
    throw ChunkswarmError.unsafePath(name, `name is ${bytes} bytes, above the limit of ${limits.maxNameBytes}`);
  }
}

/**
 * Byte-wise order of the UTF-8 encodings, without encoding: UTF-8 order is code point order, and
 * UTF-16 code units sort by code point once surrogates (code points >= 0x10000) are moved above
 * U+E000..U+FFFF.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Canonical walk order of '/'-joined relative paths: component by component, so a directory's contents come right after it. */
export function comparePaths(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const order = compareNames(x[i]!, y[i]!);
    if (order !== 0) return order;
  }
  return x.length - y.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** The predicate of checkUint, for callers that build its message only when it fails. */
function isUint(v: unknown, max = Number.MAX_SAFE_INTEGER): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;
}

export function checkUint(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): asserts v is number {
  if (isUint(v, max)) return;
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw ChunkswarmError.badObject(`${what} must be a non-negative integer, got ${String(v)}`);
  if ((v as number) > max) throw ChunkswarmError.badObject(`${what} is ${String(v)}, above ${max}`);
}

function isHash(v: unknown): boolean {
  return typeof v === 'string' && isHex64(v);
}

export function checkHash(v: unknown, what: string): asserts v is string {
  if (!isHash(v)) throw ChunkswarmError.badObject(`${what} must be 64 lowercase hex characters`);
}

function checkString(v: unknown, what: string, maxBytes: number): asserts v is string {
  if (typeof v !== 'string') throw ChunkswarmError.badObject(`${what} must be a string`);
  const bytes = Buffer.byteLength(v, 'utf8');
  if (bytes > maxBytes) throw ChunkswarmError.tooLarge(`${what} (bytes)`, bytes, maxBytes);
}

/**
 * A file object built in this process (the encoder's input): its fields' types, then its rules.
 * The decoder checks only the rules (checkDecodedFile): its reader yields integers and 64-character
 * hex hashes by construction, and re-testing 10^5 hashes each time a release is read cost ~20 ms.
 */
export function checkFile(o: FileObject, limits: DecodeLimits): void {
  checkUint(o.size, 'file size');
  if (!Array.isArray(o.chunks)) throw ChunkswarmError.badObject('file chunks must be a list');
  for (const c of o.chunks) {
    checkHash(c?.hash, 'chunk hash');
    checkUint(c.size, 'chunk size');
  }
  checkDecodedFile(o, limits);
}

export function checkDecodedFile(o: FileObject, limits: DecodeLimits): void {
  if (o.size > limits.maxFileSize) throw ChunkswarmError.tooLarge('file size', o.size, limits.maxFileSize);
  if (o.chunks.length > limits.maxChunks) throw ChunkswarmError.tooLarge('chunk count', o.chunks.length, limits.maxChunks);
  let sum = 0;
  for (const c of o.chunks) {
    if (c.size > CHUNK_MAX) throw ChunkswarmError.badObject(`chunk size is ${c.size}, above ${CHUNK_MAX}`);
    if (c.size === 0) throw ChunkswarmError.badObject('empty chunk');
    sum += c.size;
  }
  // Chunks are at least one byte, so this also makes "size 0" and "no chunks" the same thing.
  if (sum !== o.size) throw ChunkswarmError.badObject(`file size ${o.size} differs from the sum of its chunks ${sum}`);
}

/** A tree entry built in this process: its fields' types, then the rules (checkDecodedEntry). */
export function checkEntry(e: TreeEntry, limits: DecodeLimits): void {
  // Quoted only for a message: 10^5 entries are checked each time a release's trees are read.
  const what = () => `entry ${JSON.stringify(e.name)}`;
  if (e.type !== 'file' && e.type !== 'dir' && e.type !== 'symlink') {
    throw ChunkswarmError.badObject(`${what()}: unknown type ${String(e.type)}`);
  }
  if (!isUint(e.mode)) checkUint(e.mode, `${what()} mode`);
  if (!isUint(e.mtime)) checkUint(e.mtime, `${what()} mtime`);
  if ((e.uid === undefined) !== (e.gid === undefined)) throw ChunkswarmError.badObject(`${what()}: uid and gid go together`);
  if (e.uid !== undefined) {
    if (!isUint(e.uid)) checkUint(e.uid, `${what()} uid`);
    if (!isUint(e.gid)) checkUint(e.gid, `${what()} gid`);
  }
  if (e.link !== undefined) checkUint(e.link, `${what()} link group`);
  if (e.type === 'symlink') {
    if (e.hash !== undefined) throw ChunkswarmError.badObject(`${what()}: a symlink has no content hash`);
  } else {
    if (e.target !== undefined) throw ChunkswarmError.badObject(`${what()}: only symlinks have a target`);
    if (!isHash(e.hash)) checkHash(e.hash, `${what()} hash`);
  }
  checkDecodedEntry(e, limits);
}

/**
 * The rules of an entry whose fields are typed already, as the decoder's reader yields them: a known
 * type, integers, a hash or a target as the type wants, uid with gid.
 */
export function checkDecodedEntry(e: TreeEntry, limits: DecodeLimits): void {
  validateName(e.name, limits);
  const what = () => `entry ${JSON.stringify(e.name)}`;
  if (e.mode > MAX_MODE) checkUint(e.mode, `${what()} mode`, MAX_MODE);
  if (e.link !== undefined) {
    if (e.type !== 'file') throw ChunkswarmError.badObject(`${what()}: only files can be hard links`);
    if (e.link < 1) throw ChunkswarmError.badObject(`${what()}: link groups are numbered from 1`);
  }
  if (e.type === 'symlink') {
    const target = e.target;
    checkString(target, `${what()} symlink target`, limits.maxTargetBytes);
    if (target === '') throw ChunkswarmError.badObject(`${what()}: empty symlink target`);
    if (target.includes('\0')) throw ChunkswarmError.badObject(`${what()}: symlink target contains NUL`);
  }
}

/** A tree object built in this process; the decoder's are checked by checkDecodedTree. */
export function checkTree(o: TreeObject, limits: DecodeLimits): void {
  if (!Array.isArray(o.entries)) throw ChunkswarmError.badObject('tree entries must be a list');
  checkEntries(o, limits, (e) => {
    if (typeof e !== 'object' || e === null) throw ChunkswarmError.badObject('tree entry must be an object');
    checkEntry(e, limits);
  });
}

export function checkDecodedTree(o: TreeObject, limits: DecodeLimits): void {
  checkEntries(o, limits, (e) => checkDecodedEntry(e, limits));
}

function checkEntries(o: TreeObject, limits: DecodeLimits, check: (e: TreeEntry) => void): void {
  if (o.entries.length > limits.maxEntries) throw ChunkswarmError.tooLarge('entry count', o.entries.length, limits.maxEntries);
  let prev: string | null = null;
  for (const e of o.entries) {
    check(e);
    if (prev !== null && compareNames(prev, e.name) >= 0) {
      throw ChunkswarmError.badObject(`entries ${JSON.stringify(prev)} and ${JSON.stringify(e.name)} are duplicate or out of order`);
    }
    prev = e.name;
  }
}

export function checkReleaseBody(b: ReleaseBody, limits: DecodeLimits): void {
  if (typeof b.cluster !== 'string' || !isHex64(b.cluster)) {
    throw ChunkswarmError.badObject('release cluster must be 64 lowercase hex characters');
  }
  checkUint(b.version, 'release version');
  if (b.version < 1) throw ChunkswarmError.badObject('release versions start at 1');
  checkHash(b.root, 'release root');
  if (b.parent !== null) checkHash(b.parent, 'release parent');
  checkUint(b.created, 'release creation time');
  checkString(b.note, 'release note', limits.maxNoteBytes);
}
