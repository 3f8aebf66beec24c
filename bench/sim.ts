/**
 * bench/sim: the rollout simulator (bench/sim/). Drives the real PieceScheduler, Choker and
 * SuperSeeder of every node over modelled links, to answer what one machine cannot host.
 *   npm run sim [-- --suite validate|scale|all] [-- --help]
 * validate: the exact steps of `npm run bench` (N = 4..32, cold / incremental / bootstrap, the same
 *   image, rates and fixed costs), beside the real figures of a bench JSON.
 * scale: N = 100 .. 10,000 (homogeneous; 20 % of the nodes at a quarter rate; churn with the
 *   publisher leaving; bootstrap of one node from the frontends).
 * Writes JSON, Markdown and SVG charts to bench/results/.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ChartFile } from './bandwidth/charts.js';
import type { ScenarioName, StepResult } from './bandwidth/types.js';
import { benchArgs } from './lib/args.js';
import { repoRoot, writeResult } from './lib/results.js';
import { runSim } from './sim/engine.js';
import { groupPieces } from '../src/manifest/index.js';
import { imagePieces } from './sim/image-pieces.js';
import { AS_MEASURED, CURRENT, POLICIES } from './sim/policies.js';
import { scaleChart, scaleMarkdown, summarise, validationChart, validationMarkdown, type RealRow, type Summary, type ValidationRow } from './sim/report.js';
import { benchSpec, scaleSpec, type ScaleCase } from './sim/scenarios.js';

const MB = 1e6;
const DEFAULT_REAL = join(repoRoot, 'bench', 'results', 'bandwidth-2026-11-25T22-22-45-949Z.json');
const USAGE = `npm run sim -- [options]
  --suite NAME        validate, scale or all (default all)
  --policies LIST     validate: ${AS_MEASURED.name},${CURRENT.name} (default); scale: ${CURRENT.name}. Known: ${Object.keys(POLICIES).join(', ')}
  --seeds K           runs per case, median reported with the spread (default 3; scale: 1 from N=1000)
  --n LIST            scale: frontends (default 100,1000,10000)
  --mb MB --rate MB/S scale: image size and link rate (default 16 and 0.5, as npm run bench)
  --cases LIST        scale: homogeneous,mixed,churn,bootstrap (default all)
  --latency MS        scale: one-way latency of each node (default 10)
  --piece-kib KIB     scale: pieces as runs of consecutive chunks up to this size (default: a node's own
                      layout, pieceTarget(): 64 KiB .. 1 MiB by the release's size)
  --max-peers K       scale: connections per node (default 64, limits.maxPeers)
  --real FILE         validate: the real bench JSON (default the README's run)
  --with FILE         scale: add the scale rows of an earlier sim JSON to the report and charts
                      (e.g. N=10,000 run on its own, so that no run holds the bench lock for long)
  --out DIR           where the JSON, Markdown and SVG go (default bench/results)`;

const o = benchArgs(USAGE, {
  suite: { type: 'string', default: 'all' },
  policies: { type: 'string' },
  seeds: { type: 'string', default: '3' },
  n: { type: 'string', default: '100,1000,10000' },
  mb: { type: 'string', default: '16' },
  rate: { type: 'string', default: '0.5' },
  latency: { type: 'string', default: '10' },
  cases: { type: 'string', default: 'homogeneous,mixed,churn,bootstrap' },
  'piece-kib': { type: 'string' },
  'max-peers': { type: 'string', default: '64' },
  real: { type: 'string', default: DEFAULT_REAL },
  with: { type: 'string' },
  out: { type: 'string', default: join(repoRoot, 'bench', 'results') },
});

function policiesFor(suite: 'validate' | 'scale') {
  const names = o.policies?.split(',') ?? (suite === 'validate' ? [AS_MEASURED.name, CURRENT.name] : [CURRENT.name]);
  return names.map((n) => POLICIES[n] ?? fail(`unknown policy ${n}; known: ${Object.keys(POLICIES).join(', ')}`));
}

function fail(why: string): never {
  console.error(why);
  process.exit(2);
}

const seeds = Math.max(1, Number(o.seeds));
const log = (line: string) => console.log(line);

async function validate(): Promise<{ rows: ValidationRow[]; md: string[]; chart: ChartFile; settings: Record<string, unknown> }> {
  const real = JSON.parse(await readFile(o.real, 'utf8')) as { settings: { ns: number[]; bytes: number; files: number; rate: number; scenarios: ScenarioName[] }; results: StepResult[] };
  const st = real.settings;
  log(`validate: the steps of ${basename(o.real)}: N = ${st.ns.join(', ')}, ${st.bytes / MB} MB in ${st.files} files, ${st.rate / MB} MB/s`);
  const img = await imagePieces({ bytes: st.bytes, files: st.files });
  const rows: ValidationRow[] = [];
  for (const n of st.ns) {
    for (const scenario of st.scenarios) {
      const r = real.results.find((x) => x.method === 'chunkswarm' && x.n === n && x.scenario === scenario);
      const realRow: RealRow | undefined = r && { scenario, n, first: r.first, median: r.median, last: r.last, boundSeconds: r.boundSeconds, publisherSent: r.publisherSent, cpuBusy: r.load.cpuBusy };
      const sim: Record<string, Summary> = {};
      for (const p of policiesFor('validate')) {
        const s = summarise(Array.from({ length: seeds }, (_, k) => runSim(benchSpec(scenario, img, n, st.rate, p, k + 1))));
        sim[p.name] = s;
        log(`  ${scenario.padEnd(11)} N=${String(n).padEnd(3)} ${p.name.padEnd(20)} last ${s.last?.toFixed(2)} s (${s.lastMin?.toFixed(2)}–${s.lastMax?.toFixed(2)}), real ${realRow?.last?.toFixed(2) ?? 'n/a'} s, bound ${s.boundSeconds.toFixed(2)} s`);
      }
      rows.push({ scenario, n, real: realRow, sim });
    }
  }
  const subtitle = `${st.bytes / MB} MB image, ${st.rate / MB} MB/s links; simulated: median of ${seeds} seeds`;
  return { rows, md: validationMarkdown(rows, AS_MEASURED.name, basename(o.real)), chart: validationChart(rows, subtitle), settings: st };
}

async function scale(): Promise<{ rows: Summary[]; md: string[]; charts: ChartFile[]; settings: Record<string, unknown> }> {
  const rate = Number(o.rate) * MB;
  const bytes = Number(o.mb) * MB;
  const latencyMs = Number(o.latency);
  const maxPeers = Number(o['max-peers']);
  const img = await imagePieces({ bytes, files: Math.max(250, Math.round(bytes / 128_000)) });
  const pieces = o['piece-kib'] ? groupPieces(img.v1Chunks, Number(o['piece-kib']) * 1024).map((p) => p.size) : img.v1;
  const ns = o.n.split(',').map(Number);
  const want = new Set(o.cases.split(','));
  const cases: ScaleCase[] = [];
  for (const n of ns) {
    if (want.has('homogeneous')) cases.push({ name: 'homogeneous', n, rate, latencyMs });
    if (want.has('mixed')) cases.push({ name: 'mixed (20 % at 1/4 rate)', n, rate, latencyMs, slowShare: 0.2, slowFactor: 0.25 });
  }
  const mid = ns.find((n) => n >= 1000) ?? ns[ns.length - 1]!;
  if (want.has('churn')) cases.push({ name: 'churn (10 % late, 5 % die, publisher leaves at 1.5 S/r)', n: mid, rate, latencyMs, lateShare: 0.1, failShare: 0.05, publisherLeavesAt: 1.5 });
  if (want.has('bootstrap')) for (const n of [16, ...ns.filter((x) => x <= 1000)]) cases.push({ name: 'bootstrap (1 new node, publisher gone)', n, rate, latencyMs, bootstrap: true });
  const earlier = o.with ? ((JSON.parse(await readFile(o.with, 'utf8')) as { scale?: { rows: Summary[] } }).scale?.rows ?? []) : [];
  const rows: Summary[] = [...earlier];
  for (const c of cases) {
    for (const p of policiesFor('scale')) {
      const k = c.n >= 1000 ? 1 : seeds;
      const dtMs = c.n > 100 ? 20 : 10;
      // A bootstrap has one receiver; its case is named by the frontends it fetches from.
      const s = { ...summarise(Array.from({ length: k }, (_, i) => runSim(scaleSpec(c, pieces, p, i + 1, { maxPeers, dtMs, objectBytes: img.v1ObjectBytes })))), n: c.n };
      rows.push(s);
      log(`  ${c.name} N=${c.n} ${p.name}: first ${s.first?.toFixed(1)} median ${s.median?.toFixed(1)} last ${s.last?.toFixed(1) ?? `${s.incomplete} incomplete`} s, bound ${s.boundSeconds.toFixed(1)} s (x${s.ratio?.toFixed(2)}), publisher ${s.publisherCopies.toFixed(2)} copies (${s.wallSeconds.toFixed(0)} s wall)`);
    }
  }
  const subtitle = `${o.mb} MB image in ${pieces.length} pieces, ${o.rate} MB/s links, ${latencyMs} ms one-way per node, ${maxPeers} peers per node`;
  const charts = ['homogeneous', 'mixed'].filter((f) => rows.some((r) => r.name.startsWith(f))).map((f) => scaleChart(rows, f, subtitle));
  return { rows, md: scaleMarkdown(rows), charts, settings: { rate, bytes, latencyMs, maxPeers, ns, pieces: pieces.length, pieceKiB: o['piece-kib'] ?? null } };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const command = `npm run sim -- ${process.argv.slice(2).join(' ')}`.trim();
  const v = o.suite === 'validate' || o.suite === 'all' ? await validate() : null;
  const s = o.suite === 'scale' || o.suite === 'all' ? await scale() : null;
  if (!v && !s) fail(`unknown suite ${o.suite}\n${USAGE}`);
  const seconds = (performance.now() - t0) / 1000;
  const json = await writeResult('sim', { command, seconds, policies: Object.values(POLICIES).map((p) => p.name), validation: v && { settings: v.settings, rows: v.rows }, scale: s && { settings: s.settings, rows: s.rows } }, o.out);
  const base = json.replace(/\.json$/, '');
  const charts = [...(v ? [v.chart] : []), ...(s?.charts ?? [])];
  for (const c of charts) await writeFile(`${base}-${c.suffix}.svg`, c.svg);
  const md = [
    `# Rollout simulator, ${new Date().toISOString()}`,
    '',
    `Command: \`${command}\` (${seconds.toFixed(0)} s). Policies: ${[...new Set([...(v ? policiesFor('validate') : []), ...(s ? policiesFor('scale') : [])])].map((p) => `**${p.name}**: ${p.description}`).join(' ')}`,
    '',
    ...(v ? ['## Validation against the real benchmark', '', ...v.md, ''] : []),
    ...(s ? ['## Scale', '', ...s.md, ''] : []),
    '## Charts',
    '',
    ...charts.map((c) => `![${c.title}](${basename(`${base}-${c.suffix}.svg`)})`),
    '',
  ].join('\n');
  await writeFile(`${base}.md`, md);
  console.log(`\n${md}\nwrote ${json}, ${base}.md and ${charts.length} charts`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
