import { cpus } from 'node:os';
import { join } from 'node:path';
import { benchArgs } from '../lib/args.js';
import { ChunkswarmError } from '../../src/index.js';
import { repoRoot } from '../lib/results.js';
import { SCENARIOS, type ScenarioName } from './types.js';

/** Defaults of the quick (smoke) run and of the full run; rateNote() explains the full run's. */
export const QUICK = { ns: '4,8', mb: 32, rate: 8 };
export const FULL = { ns: '4,8,16,32', mb: 16, rate: 0.5 };

export const USAGE = `npm run bench -- [options]
  --quick              N = 4,8, a 32 MB image, 8 MB/s links (under 5 minutes; a smoke run)
  --n LIST             frontends per run (default 4,8,16,32)
  --mb MB              image size in MB (default ${FULL.mb}; quick ${QUICK.mb})
  --files COUNT        files in the image (default one per 128 KB, at least 250)
  --rate MB/S          every node's upload and download cap (default ${FULL.rate}; quick ${QUICK.rate}; the report says why)
  --methods LIST       chunkswarm,rsync,webtorrent (default all)
  --scenarios LIST     cold,incremental,bootstrap (default all; cold always runs first)
  --piece-kib KIB      torrent piece length (default 256)
  --netns              every node in its own network namespace, links shaped by the kernel (veth + tc tbf)
                       instead of the nodes' own rate limits; needs root (CAP_NET_ADMIN); no latency emulation
  --out DIR            where the JSON, Markdown and SVG files go (default bench/results)
  --keep               keep the work directory
BENCH_PROFILE_DIR=DIR  a CPU profile of every chunkswarm serve process (node --cpu-prof) into DIR
BENCH_OBJECT_CLIENTS=K limits.objectClients for the chunkswarm nodes (the publisher answers K nodes' object requests at a time; all: every node)
BENCH_MESH=partial     chunkswarm publishes once every node has 3/4 of min(N, 8) peers (default: all of them, N, at most 64)`;

/**
 * BENCH_MESH: whether the chunkswarm cluster waits for its whole mesh before the first step
 * (the default, as a cluster's frontends have been up for a while when a release comes out), or,
 * with "partial", for three quarters of min(N, 8) peers, as the bench did before 2026-12-05.
 */
export function benchMeshFull(): boolean {
  const v = process.env.BENCH_MESH ?? '';
  if (v !== '' && v !== 'full' && v !== 'partial') throw new ChunkswarmError('E_USAGE', `BENCH_MESH must be "full", "partial" or unset; got "${v}"`);
  return v !== 'partial';
}

/** BENCH_OBJECT_CLIENTS as a limits.objectClients value: a count, or null for "all". */
export function benchObjectClients(): number | null {
  const v = process.env.BENCH_OBJECT_CLIENTS ?? '';
  if (v === 'all') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ChunkswarmError('E_USAGE', `BENCH_OBJECT_CLIENTS must be a count of 1 or more, or "all"; got "${v}"`);
  return n;
}

export interface BenchOptions {
  quick: boolean;
  ns: number[];
  bytes: number;
  files: number;
  /** Bytes per second. */
  rate: number;
  /** The rate or the image size came from the command line, not a preset. */
  rateGiven: boolean;
  methods: string[];
  scenarios: ScenarioName[];
  pieceLength: number;
  /** Kernel-shaped links between network namespaces instead of the nodes' own limits. */
  netns: boolean;
  out: string;
  keep: boolean;
}


function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not "${v}"\n${USAGE}`);
  return n;
}

export function parseOptions(argv: string[], allMethods: string[]): BenchOptions {
  const values = benchArgs(
    USAGE,
    {
      quick: { type: 'boolean', default: false },
      n: { type: 'string' },
      mb: { type: 'string' },
      files: { type: 'string' },
      rate: { type: 'string' },
      methods: { type: 'string', default: allMethods.join(',') },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      'piece-kib': { type: 'string', default: '256' },
      netns: { type: 'boolean', default: false },
      out: { type: 'string', default: join(repoRoot, 'bench', 'results') },
      keep: { type: 'boolean', default: false },
    },
    argv,
  );
  const quick = values.quick;
  const preset = quick ? QUICK : FULL;
  const ns = list(values.n ?? preset.ns).map((v) => Math.round(positive('n', v)));
  const bytes = Math.round(positive('mb', values.mb ?? String(preset.mb)) * 1e6);
  const methods = list(values.methods);
  const unknown = methods.filter((m) => !allMethods.includes(m));
  if (unknown.length > 0) throw new Error(`unknown method(s) ${unknown.join(', ')}; known: ${allMethods.join(', ')}`);
  const asked = list(values.scenarios);
  const bad = asked.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (bad.length > 0) throw new Error(`unknown scenario(s) ${bad.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  // Incremental and bootstrap start from the cold rollout's state, so cold always runs.
  const scenarios = SCENARIOS.filter((s) => s === 'cold' || asked.includes(s));
  return {
    quick,
    ns,
    bytes,
    files: Math.max(4, Math.round(values.files ? positive('files', values.files) : Math.max(250, bytes / 128_000))),
    rate: positive('rate', values.rate ?? String(preset.rate)) * 1e6,
    rateGiven: values.rate !== undefined || values.mb !== undefined,
    methods,
    scenarios,
    pieceLength: Math.round(positive('piece-kib', values['piece-kib']) * 1024),
    netns: values.netns,
    out: values.out,
    keep: values.keep,
  };
}

/** Why the links run at this rate: printed in the report, next to the figures it shapes. */
export function rateNote(o: BenchOptions): string {
  const MB = 1e6;
  const maxN = Math.max(...o.ns);
  const aggregate = ((maxN + 1) * o.rate) / MB;
  const rsyncMin = o.ns.reduce((a, n) => a + (n * o.bytes) / o.rate, 0) / 60;
  const common =
    `With N=${maxN} the swarms move up to ${aggregate.toFixed(1)} MB/s in all through ${o.netns ? 'the namespaces\' veth links' : 'loopback'}, every byte encrypted, hashed and ` +
    `written by node processes sharing ${cpus().length} cores; rsync's cold rollouts alone take at least ${rsyncMin.toFixed(0)} min (N·S/rate each).`;
  if (o.rateGiven) return `Rate and image size as given on the command line. ${common}`;
  if (o.quick) {
    return `The quick run keeps the issue's 8 MB/s link: it is a smoke run, and at N=8 that is more than two cores can carry for the swarms (see the CPU column). ${common}`;
  }
  return (
    `Why ${o.rate / MB} MB/s and ${o.bytes / MB} MB: the swarms cost about 0.05 (webtorrent) to 0.1 (chunkswarm) CPU-seconds per MB ` +
    'delivered on this machine (ownCpuSeconds per step in the JSON), so two cores carry roughly 20 to 40 MB/s in all, and at ' +
    `N=${maxN} the swarms need ${aggregate.toFixed(1)} MB/s, which the cores should carry: the links, not the CPU, set the pace ` +
    '(the CPU column shows whether that held). The image is small so that a ' +
    `transfer still lasts S/rate = ${(o.bytes / o.rate).toFixed(0)} s, as 256 MB would at 8 MB/s; at 256 MB and a rate this low, rsync ` +
    `alone would run for hours. The issue's literal setting is --mb 256 --rate 8 (CPU-bound from N=4 or 8 on two cores). ${common}`
  );
}
