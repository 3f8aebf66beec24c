import { BufferPool } from './buffer-pool.js';

/** Records from this size up (piece messages) use the pool; smaller ones (batches of requests and haves) do not. */
export const RECORD_POOLED_MIN_BYTES = 64 * 1024;
/** Every pooled buffer has this size: a record of the largest piece (1 MiB) fits. */
export const RECORD_BUFFER_BYTES = 1024 * 1024 + 64 * 1024;

/**
 * The buffers the direct path's large records are built in (sent) and gathered into (received),
 * shared by the process's connections (TcpSecretStream). A fresh 1 MiB buffer per record costs
 * page faults on first touch and a GC later. A received piece's bytes come back from whoever
 * holds them last (the stager, once they are written and no longer kept to be served), and only
 * when the record held that one piece and nothing else (StreamLink narrows the record to it):
 * whatever else is received in one is left to the GC.
 */
export const recordBuffers = new BufferPool(16, () => RECORD_BUFFER_BYTES);
