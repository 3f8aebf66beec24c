/**
 * bench/bandwidth: chunkswarm against the ways people distribute a tree today (rsync from the
 * publisher, stock BitTorrent), with every node's links capped at the same emulated rate, over N
 * frontends, in three scenarios (cold rollout, 1% incremental update, bootstrap of a new node with
 * the publisher stopped). Writes JSON, a Markdown table and SVG charts to bench/results/.
 * With --netns every node runs in its own network namespace and the kernel shapes the links
 * (bench/lib/netns.ts) instead of the nodes' own rate limits.
 *   npm run bench [-- --quick] [-- --netns] [-- --help]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { charts } from './bandwidth/charts.js';
import { makeImage } from './bandwidth/image.js';
import { markdown } from './bandwidth/markdown.js';
import { chunkswarm } from './bandwidth/method-chunkswarm.js';
import { rsync } from './bandwidth/method-rsync.js';
import { webtorrent } from './bandwidth/method-webtorrent.js';
import { benchMeshFull, benchObjectClients, parseOptions, rateNote } from './bandwidth/options.js';
import { closeOpenSessions, runMethod } from './bandwidth/runner.js';
import type { Method, StepResult } from './bandwidth/types.js';
import { isChunkswarmError } from '../src/index.js';
import { NetnsLab } from './lib/netns.js';
import { writeResult } from './lib/results.js';

const METHODS: Method[] = [chunkswarm, rsync, webtorrent];
const MB = 1e6;

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), METHODS.map((m) => m.name));
  const objectClients = process.env.BENCH_OBJECT_CLIENTS ? benchObjectClients() : 'default';
  const mesh = benchMeshFull() ? 'full' : 'three quarters of min(N, 8) peers';
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  // Before anything else: where namespaces cannot be made, --netns stops here (no fallback).
  // The frontends, the publisher and the node that joins late each get one.
  const lab = opts.netns ? await NetnsLab.create({ hosts: Math.max(...opts.ns) + 2, rate: opts.rate }) : null;
  const note = lab ? `${rateNote(opts)} ${lab.describe()}.` : rateNote(opts);
  const work = await mkdtemp(join(tmpdir(), 'cs-bench-bandwidth-'));
  const started = performance.now();
  // Interrupted, no rsync daemon or node process, nor any namespace, may outlive the bench.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.log(`\n${signal}: stopping every method's processes${lab ? ', removing the namespaces' : ''}${opts.keep ? '' : ` and removing ${work}`}`);
      void closeOpenSessions()
        .then(() => lab?.close())
        .then(() => (opts.keep ? undefined : rm(work, { recursive: true, force: true })))
        .finally(() => process.exit(130));
    });
  }
  try {
    console.log(note);
    console.log(`generating a ${(opts.bytes / MB).toFixed(0)} MB image of ${opts.files} files and its 1% update ...`);
    const image = await makeImage(join(work, 'image'), { bytes: opts.bytes, files: opts.files });
    const methods: Array<{ name: string; description: string } | { name: string; skipped: string }> = [];
    const usable: Method[] = [];
    for (const m of METHODS.filter((x) => opts.methods.includes(x.name))) {
      const a = await m.available();
      if (a.ok) {
        usable.push(m);
        methods.push({ name: m.name, description: m.describe(opts.rate, lab !== null) });
      } else {
        console.log(`SKIPPED ${m.name}: ${a.reason}`);
        methods.push({ name: m.name, skipped: a.reason });
      }
    }
    const rows: StepResult[] = [];
    for (const n of opts.ns) {
      for (const m of usable) {
        const t0 = performance.now();
        console.log(`N=${n} ${m.name} ...`);
        const spec = { n, rate: opts.rate, image, scenarios: opts.scenarios, pieceLength: opts.pieceLength, work: join(work, 'runs'), ...(lab && { hosts: lab.hosts, links: lab }) };
        rows.push(...(await runMethod(m, spec, (l) => console.log(l))));
        if (!opts.keep) await rm(join(spec.work, `${m.name}-n${n}`), { recursive: true, force: true });
        console.log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s in all)`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const settings = { ns: opts.ns, bytes: opts.bytes, files: opts.files, rate: opts.rate, pieceLength: opts.pieceLength, scenarios: opts.scenarios, quick: opts.quick, netns: opts.netns, objectClients, mesh };
    const jsonPath = await writeResult('bandwidth', { command, settings, image: { v1Bytes: image.v1Bytes, v2Bytes: image.v2Bytes, files: image.files, delta: image.delta }, methods, results: rows, seconds }, opts.out);
    const base = jsonPath.replace(/\.json$/, '');
    const subtitle = `${(opts.rate / MB).toFixed(2)} MB/s per link${lab ? ' (netns, tc tbf)' : ''}, ${(image.v1Bytes / MB).toFixed(0)} MB image`;
    const chartFiles = charts(rows, subtitle);
    for (const c of chartFiles) await writeFile(`${base}-${c.suffix}.svg`, c.svg);
    const md = markdown({
      at: new Date().toISOString(),
      command,
      rate: opts.rate,
      rateNote: note,
      image,
      pieceLength: opts.pieceLength,
      methods,
      rows,
      charts: chartFiles.map((c) => ({ file: basename(`${base}-${c.suffix}.svg`), title: c.title })),
    });
    await writeFile(`${base}.md`, md);
    console.log(`\n${md}`);
    console.log(`wrote ${jsonPath}, ${base}.md and ${chartFiles.length} charts (${seconds.toFixed(0)} s)`);
  } finally {
    lab?.close();
    if (!opts.keep) await rm(work, { recursive: true, force: true });
    else console.log(`work directory kept: ${work}`);
  }
}

main().catch((err) => {
  if (isChunkswarmError(err)) {
    console.error(`bench: ${err.code}: ${err.message}`);
    process.exit(err.code === 'E_USAGE' ? 2 : 1);
  }
  console.error(err);
  process.exit(1);
});
