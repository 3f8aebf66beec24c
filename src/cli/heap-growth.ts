import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { v8FlagGiven } from './v8-flag.js';

/** What node's 'gc' performance entries carry (@types/node leaves `detail` out). */
type GcEntry = PerformanceEntry & { detail?: { kind?: number } };

/** Room for garbage after a full collection: as much as survived it, within these bounds. */
const MIN_HEAP_GROWTH_BYTES = 64 * 1024 * 1024;
const MAX_HEAP_GROWTH_BYTES = 128 * 1024 * 1024;
/** V8 takes growth factors up to 4 (its own largest); no point asking for more. */
const MAX_HEAP_GROWING_PERCENT = 300;

/**
 * The growth to allow after a full collection that left `liveBytes`: the live set again, but at
 * least 64 MiB and at most 128 MiB.
 */
export function heapGrowingPercent(liveBytes: number): number {
  if (liveBytes <= 0) return MAX_HEAP_GROWING_PERCENT;
  const room = Math.min(Math.max(liveBytes, MIN_HEAP_GROWTH_BYTES), MAX_HEAP_GROWTH_BYTES);
  return Math.min(MAX_HEAP_GROWING_PERCENT, Math.ceil((room / liveBytes) * 100));
}

/**
 * V8 lets the heap grow to several times what survived the last full collection (its limit is
 * a quarter of the machine's memory, GBs), and a node that stages a release of 10^5 files makes
 * hundreds of MB of short-lived objects: that garbage stayed in RSS, 700 MB and more per node
 * beside the web server it serves (bench:seed, 100,000 files). serve lets the heap grow to twice
 * the live set instead: 30 % held less still but cost a third more CPU per update (bench:seed,
 * 20,000 files), 100 % costs nothing measurable there. Above 128 MiB live (10^5 files) the room
 * stays 128 MiB: twice 200 MB live was most of a follower's 550-700 MB RSS there.
 * A small live set gets 64 MiB of room instead: moving pieces churns buffers whose memory V8
 * counts against the same limit, and twice a 16 MB live set is reached every 12 MB of pieces
 * (a full collection every ~0.1 s, a fifth of the publisher's CPU in bench:transfer). V8 reads the
 * flag each time it sets the limit, so it is set again after each full collection. A growth given
 * on node's own command line wins (NODE_OPTIONS refuses V8 flags).
 */
export function limitHeapGrowth(): void {
  if (v8FlagGiven(process.execArgv, 'heap-growing-percent')) return;
  let current = 0;
  const apply = (percent: number) => {
    if (percent === current) return;
    current = percent;
    setFlagsFromString(`--heap-growing-percent=${percent}`);
  };
  apply(heapGrowingPercent(getHeapStatistics().used_heap_size));
  new PerformanceObserver((list) => {
    const major = list.getEntries().some((e) => (e as GcEntry).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
    if (major) apply(heapGrowingPercent(getHeapStatistics().used_heap_size));
  }).observe({ entryTypes: ['gc'] });
}
