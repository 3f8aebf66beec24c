import { ChunkswarmError } from '../core/index.js';

/** The primitives of the canonical encoding: minimal unsigned LEB128, length-prefixed bytes, raw hashes. */

const HASH_BYTES = 32;

/** Grows by doubling; `finish()` returns a view of exactly the bytes written. */
export class Writer {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  /** Callers pass only validated non-negative safe integers. */
  uint(v: number): void {
    this.reserve(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  bytes(bytes: Uint8Array): void {
    this.uint(bytes.length);
    this.raw(bytes);
  }

  string(s: string): void {
    // ASCII, nearly every name in a tree, is its own UTF-8: written in place, no Buffer of its own.
    if (!isAscii(s)) return this.bytes(utf8(s));
    this.uint(s.length);
    this.reserve(s.length);
    this.pos += this.buf.write(s, this.pos, s.length, 'latin1');
  }

  /** Callers pass only validated hashes (64 lowercase hex characters). */
  hash(hex: string): void {
    this.reserve(HASH_BYTES);
    const n = this.buf.write(hex, this.pos, HASH_BYTES, 'hex');
    if (n !== HASH_BYTES || hex.length !== HASH_BYTES * 2) throw ChunkswarmError.badObject(`not a hash: ${JSON.stringify(hex)}`);
    this.pos += n;
  }

  finish(): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos);
  }
}

/** Every read checks bounds, so a truncated or hostile input ends in E_BAD_OBJECT and nothing else. */
export class Reader {
  private pos = 0;
  private readonly buf: Buffer;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) throw ChunkswarmError.badObject(`truncated while reading ${what}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  uint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0) throw ChunkswarmError.badObject(`${what}: non-minimal integer encoding`);
        break;
      }
      scale *= 0x80;
      // 8 groups of 7 bits already exceed 2^53; a 9th byte can only mean an unsafe integer.
      if (i === 7) throw ChunkswarmError.badObject(`${what}: integer above 2^53`);
    }
    if (value > Number.MAX_SAFE_INTEGER) throw ChunkswarmError.badObject(`${what}: integer above 2^53`);
    return value;
  }

  /** A view into the input, valid as long as the input is. */
  raw(n: number, what: string): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Length-checked against the input only; the object's own limits are applied by its validator. */
  bytes(what: string): Buffer {
    return this.raw(this.uint(`${what} length`), what);
  }

  /** Decoded in place: a view per string or hash was most of decoding a tree of 10^5 entries. */
  string(what: string): string {
    const n = this.uint(`${what} length`);
    this.need(n, what);
    const start = this.pos;
    const end = (this.pos += n);
    const s = this.buf.toString('utf8', start, end);
    // Invalid sequences decode to U+FFFD, which then re-encodes differently: canonical means round-trip exact.
    // ASCII always is (nearly every name in a tree), so the copy that checks it is made only for the rest.
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (this.buf[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii && !Buffer.from(s, 'utf8').equals(this.buf.subarray(start, end))) {
      throw ChunkswarmError.badObject(`${what} is not valid UTF-8`);
    }
    return s;
  }

  hash(what: string): string {
    this.need(HASH_BYTES, what);
    const start = this.pos;
    return this.buf.toString('hex', start, (this.pos += HASH_BYTES));
  }

  end(what: string): void {
    if (this.remaining !== 0) throw ChunkswarmError.badObject(`${this.remaining} trailing bytes after ${what}`);
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** UTF-8 bytes of s; refuses lone surrogates, which UTF-8 cannot carry and would silently become U+FFFD. */
export function utf8(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.toString('utf8') !== s) throw ChunkswarmError.badObject(`string ${JSON.stringify(s)} is not valid Unicode`);
  return bytes;
}
