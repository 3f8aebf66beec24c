import { fullCollector } from './idle-collect.js';

/**
 * glibc's malloc sets its thresholds from the largest block it has unmapped so far: a block of
 * this size freed makes blocks up to it come from the heap (not a fresh mmap each) and lets the
 * heap keep twice this much free at its top (not give it back to the kernel). Within the 32 MiB
 * that glibc's own adjustment goes up to.
 */
const BLOCK_BYTES = 16 * 1024 * 1024;

/**
 * Makes glibc keep the memory a node churns through. Pieces pass through buffers of up to a few
 * MB that the GC frees in batches; with glibc's defaults (thresholds raised to the largest piece
 * record seen, ~1 MB) the heap's free top went back to the kernel and came back as fresh pages,
 * about one page fault per 5–6 KiB received (bench:transfer, 256 MB, 2026-12-04, alternating:
 * the follower 44,000–52,000 faults and 6.5–8.8 ms of CPU per MB; with this, 29,000–32,000 and
 * 5.6–6.8 ms/MB, peak RSS 5–8 MB more). The same as GLIBC_TUNABLES' malloc.mmap_threshold=16 MiB
 * and malloc.trim_threshold=32 MiB, which must be set before the process starts: here, one block
 * allocated untouched (mapped, never resident) and freed by a full collection at start does it.
 * Elsewhere than glibc it is a block allocated and freed.
 */
export function keepFreedMemory(): void {
  // Dropped at once (not `new ArrayBuffer`, which the bundler removes as unused).
  Buffer.allocUnsafeSlow(BLOCK_BYTES);
  fullCollector()();
}
