import NoiseSecretStream from '@hyperswarm/secret-stream';
import { BufferPool } from '../core/index.js';

/** libsodium secretstream's per-record overhead (crypto_secretstream_xchacha20poly1305_ABYTES). */
const ABYTES = 17;
/** A record: a 3-byte length, then the encrypted message and its ABYTES. */
const RECORD_OVERHEAD = 3 + ABYTES;
/**
 * Records from this size up (piece messages) are built in pooled buffers; smaller ones (batches
 * of requests and haves) are left to the library.
 */
const POOLED_MIN_BYTES = 64 * 1024;
/** Every pooled buffer has this size: a piece record of the largest piece (1 MiB) fits. */
const POOLED_BYTES = 1024 * 1024 + 64 * 1024;
/** Buffers kept for reuse across the process's connections; each is in use from alloc() to its write's callback. */
const records = new BufferPool(8, () => POOLED_BYTES);

/** How often a pooled record buffer was reused and how often one had to be made (a test reads them). */
export function recordPoolStats(): { reused: number; created: number } {
  return { reused: records.reused, created: records.created };
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
}

const libraryWrite = (NoiseSecretStream.prototype as unknown as Internals)._write;

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
    if (size < POOLED_MIN_BYTES || size > POOLED_BYTES) return super.alloc(length);
    return records.lend(length, 4);
  }

  /** streamx calls this for every queued write, in order. */
  _write(data: Buffer, cb: (err: Error | null) => void): void {
    const buf = records.bufferOf(data);
    if (buf === undefined) return libraryWrite.call(this, data, cb);
    const self = this as unknown as Internals;
    self._outgoingWrapped = buf.subarray(0, data.byteLength + RECORD_OVERHEAD);
    self._outgoingPlain = data;
    libraryWrite.call(this, data, (err) => {
      records.giveBack(data, err === null && (self.rawStream?.writableLength ?? 1) === 0);
      cb(err);
    });
  }
}
