import { setFlagsFromString } from 'node:v8';

/** Heap growth after a full collection, in percent of what survived it. */
const SERVE_HEAP_GROWING_PERCENT = 100;

/**
 * V8 lets the heap grow to several times what survived the last full collection (its limit is
 * a quarter of the machine's memory, GBs), and a node that stages a release of 10^5 files makes
 * hundreds of MB of short-lived objects: that garbage stayed in RSS, 700 MB and more per node
 * beside the web server it serves (bench:seed, 100,000 files). serve lets the heap grow to twice
 * the live set instead: 30 % held less still but cost a third more CPU per update (bench:seed,
 * 20,000 files), 100 % costs nothing measurable there. The flag on node's own command line wins
 * (NODE_OPTIONS refuses V8 flags).
 */
export function limitHeapGrowth(): void {
  if (!process.execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) setFlagsFromString(`--heap-growing-percent=${SERVE_HEAP_GROWING_PERCENT}`);
}
