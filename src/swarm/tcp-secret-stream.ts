import NoiseSecretStream from '@hyperswarm/secret-stream';
import { recordBuffers, RECORD_BUFFER_BYTES, RECORD_POOLED_MIN_BYTES } from '../core/index.js';

/** libsodium secretstream's per-record overhead (crypto_secretstream_xchacha20poly1305_ABYTES). */
const ABYTES = 17;
/** A record: a 3-byte length, then the encrypted message and its ABYTES. */
const LENGTH_BYTES = 3;
const RECORD_OVERHEAD = LENGTH_BYTES + ABYTES;
/** Where a record's message starts: after its length and the header byte of the encrypted message. */
const PLAIN_AT = LENGTH_BYTES + 1;

/** How often a pooled record buffer was reused and how often one had to be made (a test reads them). */
export function recordPoolStats(): { reused: number; created: number } {
  return { reused: recordBuffers.reused, created: recordBuffers.created };
}

/**
 * The part of NoiseSecretStream 6.9 this relies on: _write() encrypts in place, without a copy,
 * the buffer whose plain view is in _outgoingPlain (alloc() sets the two fields; _write() clears
 * them), and calls back once the raw stream took the record. test/unit/tcp-secret-stream.test.ts
 * fails if a new version of the library stops doing so.
 */
interface Internals {
  _outgoingWrapped: Buffer | null;
  _outgoingPlain: Buffer | null;
  _write(data: Buffer, cb: (err: Error | null) => void): void;
  rawStream: { writableLength?: number } | null;
  /**
   * Inbound framing: _onrawdata() reads a record's 3-byte little-endian length (_state 0; _tmp is
   * the next byte's multiplier: 1, 256, 65536, then 2^24 when done), then its body (_state 1, _len
   * bytes). A body that arrives whole in one chunk is used in place; else it is gathered into
   * _message (allocated by the library if null), _tmp counting the bytes gathered, then decrypted
   * in place and the plain part pushed.
   */
  _onrawdata(data: Buffer): void;
  push(data: Buffer | null): boolean;
  _state: number;
  _len: number;
  _tmp: number;
  _message: Buffer | null;
  destroying: boolean;
}

const library = NoiseSecretStream.prototype as unknown as Internals;
const libraryWrite = library._write;
const libraryRawData = library._onrawdata;
const libraryPush = library.push;

/**
 * A NoiseSecretStream over a TCP socket (the direct path) whose large records are built in
 * pooled buffers instead of fresh ones. Every piece served is one record of up to 1 MiB; a fresh
 * buffer per record cost the publisher ~1.8 ms of CPU per MB in page faults and GC (bench:transfer
 * profile, 2026-12-03: 240 ms of 840 for 128 MB), where a copy into memory already mapped costs
 * a few.
 * alloc() lends a view of a pooled buffer. Its write marks the buffer as the one to encrypt in
 * place when the write's turn comes (not at alloc(), as the library does: another alloc() in
 * between, a batch of small messages, would void that and cost a copy into a fresh buffer), and
 * the buffer goes back to the pool once the write calls back with the socket's queue empty: the
 * kernel has every byte and nothing references the buffer. A write that fails (the stream
 * destroyed) or leaves bytes queued keeps its buffer out of the pool.
 */
export class TcpSecretStream extends NoiseSecretStream {
  /** Each view it lends is to be written once. */
  override alloc(length: number): Buffer {
    const size = length + RECORD_OVERHEAD;
    if (size < RECORD_POOLED_MIN_BYTES || size > RECORD_BUFFER_BYTES) return super.alloc(length);
    // The whole record is lent (its length before the message, its tag after), then narrowed to
    // the message: the buffer must hold the record, not only the view.
    const plain = recordBuffers.lend(size).subarray(PLAIN_AT, PLAIN_AT + length);
    recordBuffers.narrow(plain);
    return plain;
  }

  /**
   * The socket's chunks (64 KiB at most) are handed to the library in parts that end where it has
   * just read a record's length, so that a large record that does not arrive whole is gathered
   * into a pooled buffer, not a fresh one. Its plain part is what the stream pushes; whoever holds
   * it last may give it back (see recordBuffers).
   */
  _onrawdata(data: Buffer): void {
    const self = this as unknown as Internals;
    for (let at = 0; at < data.byteLength && !self.destroying; ) {
      if (self._state === 1 && self._message === null && self._len > data.byteLength - at && self._len >= RECORD_POOLED_MIN_BYTES && self._len <= RECORD_BUFFER_BYTES) {
        self._message = recordBuffers.lend(self._len);
      }
      // The rest of this record and the next one's length, or the rest of a length begun.
      const part = self._state === 1 ? self._len - self._tmp + LENGTH_BYTES : LENGTH_BYTES - Math.round(Math.log2(self._tmp) / 8);
      libraryRawData.call(this, at === 0 && part >= data.byteLength ? data : data.subarray(at, at + part));
      at += part;
    }
  }

  /** The library pushes a record's plain part: of a pooled record, all anyone holds from then on. */
  push(data: Buffer | null): boolean {
    if (data !== null) recordBuffers.narrow(data);
    return libraryPush.call(this, data);
  }

  /** streamx calls this for every queued write, in order. */
  _write(data: Buffer, cb: (err: Error | null) => void): void {
    const buf = recordBuffers.bufferOf(data);
    if (buf === undefined) return libraryWrite.call(this, data, cb);
    const self = this as unknown as Internals;
    self._outgoingWrapped = buf.subarray(0, data.byteLength + RECORD_OVERHEAD);
    self._outgoingPlain = data;
    libraryWrite.call(this, data, (err) => {
      recordBuffers.giveBack(data, err === null && (self.rawStream?.writableLength ?? 1) === 0);
      cb(err);
    });
  }
}
