import { BufferPool } from './buffer-pool.js';

/** Records from this size up (piece messages) use the pool; smaller ones (batches of requests and haves) do not. */
export const RECORD_POOLED_MIN_BYTES = 64 * 1024;
/** Room above a power of two in each pooled buffer: a record's framing and its piece message's header. */
const RECORD_SLACK_BYTES = 4096;
/** The largest pooled buffer: a record of the largest piece (1 MiB) fits. */
export const RECORD_BUFFER_BYTES = (1 << 20) + RECORD_SLACK_BYTES;

/**
 * One size class per piece size (64 KiB to 1 MiB, powers of two; a release's pieces are all about
 * its target): a buffer never holds a record much smaller than itself, so the pieces a stager
 * keeps to serve (16 MB of them) pin about that much memory, not up to 16 times more.
 */
export function recordBufferSize(bytes: number): number {
  return Math.max(RECORD_POOLED_MIN_BYTES, 2 ** Math.ceil(Math.log2(Math.max(1, bytes - RECORD_SLACK_BYTES)))) + RECORD_SLACK_BYTES;
}

/**
 * The buffers the direct path's large records are built in (sent) and gathered into (received),
 * shared by the process's connections (TcpSecretStream). A fresh 1 MiB buffer per record costs
 * page faults on first touch and a GC later. A received piece's bytes come back from whoever
 * holds them last (the stager, once they are written and no longer kept to be served), and only
 * when the record held that one piece and nothing else (StreamLink narrows the record to it):
 * whatever else is received in one is left to the GC.
 */
export const recordBuffers = new BufferPool(8, recordBufferSize);
