import { lineChart, type Series } from '../bandwidth/svg.js';
import type { ChartFile } from '../bandwidth/charts.js';
import type { ScenarioName } from '../bandwidth/types.js';
import type { SimResult } from './types.js';
import { median } from '../lib/stats.js';

const MB = 1e6;
const sec = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v.toFixed(1));
const pct = (a: number, b: number) => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(0)} %`;

/** The median over seeds of each figure, and the spread (min–max) of the last node. */
export interface Summary {
  name: string;
  policy: string;
  n: number;
  seeds: number;
  first: number | null;
  median: number | null;
  last: number | null;
  lastMin: number | null;
  lastMax: number | null;
  boundSeconds: number;
  ratio: number | null;
  publisherCopies: number;
  /** Per-node bytes up and down, MB: min / median / max over nodes and seeds. */
  upMB: [number, number, number];
  downMB: [number, number, number];
  incomplete: number;
  wallSeconds: number;
}

function q3(xs: number[]): [number, number, number] {
  const s = [...xs].sort((a, b) => a - b);
  return [s[0] ?? 0, median(s) ?? 0, s[s.length - 1] ?? 0];
}

export function summarise(runs: SimResult[]): Summary {
  const r0 = runs[0]!;
  const lasts = runs.map((r) => r.last).filter((x): x is number => x !== null);
  const nodes = runs.flatMap((r) => r.nodes.filter((x) => !x.failed));
  const num = (f: (r: SimResult) => number | null) => median(runs.map(f).filter((x): x is number => x !== null));
  const last = lasts.length === runs.length ? median(lasts) : null;
  return {
    name: r0.name,
    policy: r0.policy,
    n: r0.n,
    seeds: runs.length,
    first: num((r) => r.first),
    median: num((r) => r.median),
    last,
    lastMin: lasts.length ? Math.min(...lasts) : null,
    lastMax: lasts.length ? Math.max(...lasts) : null,
    boundSeconds: r0.boundSeconds,
    ratio: last === null ? null : last / r0.boundSeconds,
    publisherCopies: num((r) => (r.bytesPerNode > 0 ? r.publisherSent / r.bytesPerNode : 0)) ?? 0,
    upMB: q3(nodes.map((x) => x.bytesUp / MB)),
    downMB: q3(nodes.map((x) => x.bytesDown / MB)),
    incomplete: Math.max(...runs.map((r) => r.incomplete)),
    wallSeconds: runs.reduce((a, r) => a + r.wallSeconds, 0),
  };
}

/** Real figures of one bench step (bench/results/bandwidth-*.json, method chunkswarm). */
export interface RealRow {
  scenario: ScenarioName;
  n: number;
  first: number | null;
  median: number | null;
  last: number | null;
  boundSeconds: number;
  publisherSent: number;
  cpuBusy: number;
}

export interface ValidationRow {
  scenario: ScenarioName;
  n: number;
  real: RealRow | undefined;
  sim: Record<string, Summary>;
}

/** Link-bound: the transfer, not fixed per-node work, is most of the time (the incremental step is not). */
export const LINK_BOUND: readonly ScenarioName[] = ['cold', 'bootstrap'];

export function validationMarkdown(rows: ValidationRow[], asMeasured: string, realFile: string): string[] {
  const policies = [...new Set(rows.flatMap((r) => Object.keys(r.sim)))];
  const out = [
    `Real: \`${realFile}\` (chunkswarm rows). Simulated: median of the seeds; the spread of the last node in brackets. ` +
      `"${asMeasured}" is the code and settings the real run used; the deviation column compares it with the real last node.`,
    '',
    `| scenario | N | bound (s) | real last (s) | ${policies.map((p) => `sim ${p} last (s)`).join(' | ')} | sim ${asMeasured} vs real |`,
    `|---|--:|--:|--:|${policies.map(() => '--:').join('|')}|--:|`,
  ];
  for (const r of rows) {
    const cells = policies.map((p) => {
      const s = r.sim[p];
      return s ? `${sec(s.last)} (${sec(s.lastMin)}–${sec(s.lastMax)})` : '';
    });
    const m = r.sim[asMeasured]?.last;
    const dev = r.real?.last && m ? pct(m, r.real.last) : 'n/a';
    const tag = LINK_BOUND.includes(r.scenario) ? '' : ' (not link-bound)';
    out.push(`| ${r.scenario}${tag} | ${r.n} | ${(r.real?.boundSeconds ?? Object.values(r.sim)[0]?.boundSeconds ?? 0).toFixed(2)} | ${sec(r.real?.last)} | ${cells.join(' | ')} | ${dev} |`);
  }
  return out;
}

export function scaleMarkdown(rows: Summary[]): string[] {
  const out = [
    '| case | policy | N | seeds | first (s) | median (s) | last (s) | bound (s) | last / bound | publisher (copies) | up per node, MB (min/med/max) | down per node, MB (min/med/max) | wall (s) |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|--:|',
  ];
  const f = (t: [number, number, number]) => t.map((v) => v.toFixed(1)).join(' / ');
  for (const s of rows) {
    const last = s.incomplete > 0 ? `${s.incomplete} incomplete` : `${sec(s.last)}${s.seeds > 1 ? ` (${sec(s.lastMin)}–${sec(s.lastMax)})` : ''}`;
    out.push(`| ${s.name} | ${s.policy} | ${s.n} | ${s.seeds} | ${sec(s.first)} | ${sec(s.median)} | ${last} | ${s.boundSeconds.toFixed(1)} | ${s.ratio === null ? 'n/a' : s.ratio.toFixed(2)} | ${s.publisherCopies.toFixed(2)} | ${f(s.upMB)} | ${f(s.downMB)} | ${s.wallSeconds.toFixed(0)} |`);
  }
  return out;
}

export function validationChart(rows: ValidationRow[], subtitle: string): ChartFile {
  const cold = rows.filter((r) => r.scenario === 'cold').sort((a, b) => a.n - b.n);
  const policies = [...new Set(cold.flatMap((r) => Object.keys(r.sim)))];
  const series: Series[] = [
    { name: 'real', points: cold.filter((r) => r.real?.last).map((r): [number, number] => [r.n, r.real!.last!]) },
    ...policies.map((p) => ({ name: `sim ${p}`, points: cold.filter((r) => r.sim[p]?.last).map((r): [number, number] => [r.n, r.sim[p]!.last!]) })),
    { name: 'lower bound', dashed: true, points: cold.map((r): [number, number] => [r.n, r.sim[policies[0]!]!.boundSeconds]) },
  ];
  const title = 'cold rollout, last node: real vs simulated';
  return { suffix: 'validation-cold', title, svg: lineChart({ title, subtitle, xLabel: 'frontends (N)', yLabel: 'seconds', xTicks: cold.map((r) => r.n), series }) };
}

/** Rollout time against N on a log axis (x = log10 N), one chart per case family. */
export function scaleChart(rows: Summary[], family: string, subtitle: string): ChartFile {
  const rs = rows.filter((r) => r.name.startsWith(family)).sort((a, b) => a.n - b.n);
  const x = (n: number) => Math.log10(n);
  const policies = [...new Set(rs.map((r) => r.policy))];
  const series: Series[] = [];
  for (const p of policies) {
    const mine = rs.filter((r) => r.policy === p);
    const tag = policies.length > 1 ? ` (${p})` : '';
    series.push({ name: `last${tag}`, points: mine.filter((r) => r.last !== null).map((r): [number, number] => [x(r.n), r.last!]) });
    series.push({ name: `median${tag}`, points: mine.filter((r) => r.median !== null).map((r): [number, number] => [x(r.n), r.median!]) });
  }
  series.push({ name: 'lower bound', dashed: true, points: rs.filter((r) => r.policy === policies[0]).map((r): [number, number] => [x(r.n), r.boundSeconds]) });
  const title = `${family}: simulated rollout time vs N`;
  return {
    suffix: `scale-${family.replace(/[^a-z0-9]+/gi, '-')}`,
    title,
    svg: lineChart({ title, subtitle, xLabel: 'frontends N (log10: 2 = 100, 4 = 10,000)', yLabel: 'seconds', xTicks: [...new Set(rs.map((r) => x(r.n)))], series }),
  };
}
