import { setFlagsFromString } from 'node:v8';

/** Heap growth after a full collection, in percent of what survived it. */
const SERVE_HEAP_GROWING_PERCENT = 30;

/**
 * V8 lets the heap grow to several times what survived the last full collection (its limit is
 * a quarter of the machine's memory, GBs), and a node that stages a release of 10^5 files makes
 * hundreds of MB of short-lived objects: that garbage stayed in RSS, 700 MB and more per node
 * beside the web server it serves (bench:seed, 100,000 files). serve grows the heap by 30 % of the
 * live set instead; a flag given in NODE_OPTIONS or on node's command line wins.
 */
export function limitHeapGrowth(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--heap[-_]growing[-_]percent/.test(a));
  if (!given) setFlagsFromString(`--heap-growing-percent=${SERVE_HEAP_GROWING_PERCENT}`);
}
