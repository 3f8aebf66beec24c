/**
 * bench/objects: the object store alone, in process: `--objects` encoded file objects stored
 * through ObjectStore.putBytes (as a follower stores what it fetches), then read back and
 * re-hashed through a fresh store (as a process that loads a release without its pack), `--runs`
 * times; CPU (user + system) and wall time of each, median and range.
 *   npm run bench:objects [-- --objects 20000 --runs 3]
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ChunkHash, ObjectHash } from '../src/core/index.js';
import { encodeObject } from '../src/manifest/index.js';
import { ObjectStore } from '../src/store/index.js';
import { benchArgs } from './lib/args.js';
import { runBench } from './lib/results.js';
import { median } from './lib/stats.js';

const values = benchArgs(
  `npm run bench:objects [-- options]
  --objects N      file objects per run (default 20000)
  --runs K         runs (default 3)
  --keep           keep the work directory`,
  {
    objects: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
  },
);
const N = Number(values.objects);
const RUNS = Number(values.runs);

interface Timing {
  wallMs: number;
  cpuMs: number;
  systemMs: number;
}

async function timed(body: () => Promise<void>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await body();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000, systemMs: c.system / 1000 };
}

const summary = (ts: Timing[], k: keyof Timing) => ({ median: median(ts.map((t) => t[k]))!, min: Math.min(...ts.map((t) => t[k])), max: Math.max(...ts.map((t) => t[k])) });

runBench('objects', values.keep, async (work) => {
  const writes: Timing[] = [];
  const reads: Timing[] = [];
  for (let run = 0; run < RUNS; run++) {
    const dir = join(work, `run-${run}`);
    const encoded = Array.from({ length: N }, (_, i) => encodeObject({ kind: 'file', size: 1000 + i, chunks: [{ hash: randomBytes(32).toString('hex') as ChunkHash, size: 1000 + i }] }));
    const store = new ObjectStore(dir);
    store.has(randomBytes(32).toString('hex') as ObjectHash); // the one listing, outside the timing
    const hashes: ObjectHash[] = [];
    writes.push(await timed(async () => {
      for (const bytes of encoded) hashes.push(await store.putBytes(bytes));
    }));
    const fresh = new ObjectStore(dir);
    reads.push(await timed(async () => {
      for (const h of hashes) if (!(await fresh.getBytes(h))) throw new Error(`object ${h} was not read back`);
    }));
    const [w, r] = [writes.at(-1)!, reads.at(-1)!];
    console.log(`run ${run + 1}: store ${N} objects ${w.wallMs.toFixed(0)} ms (CPU ${w.cpuMs.toFixed(0)} ms, system ${w.systemMs.toFixed(0)} ms); ` +
      `read back ${r.wallMs.toFixed(0)} ms (CPU ${r.cpuMs.toFixed(0)} ms)`);
  }
  const result = { objects: N, runs: RUNS, store: { cpuMs: summary(writes, 'cpuMs'), wallMs: summary(writes, 'wallMs') }, read: { cpuMs: summary(reads, 'cpuMs'), wallMs: summary(reads, 'wallMs') } };
  console.log(`store: CPU ${result.store.cpuMs.median.toFixed(0)} ms median (${result.store.cpuMs.min.toFixed(0)}–${result.store.cpuMs.max.toFixed(0)}); ` +
    `read back: CPU ${result.read.cpuMs.median.toFixed(0)} ms median (${result.read.cpuMs.min.toFixed(0)}–${result.read.cpuMs.max.toFixed(0)})`);
  return result;
});
