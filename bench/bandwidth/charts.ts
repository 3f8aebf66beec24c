import { lineChart, type Series } from './svg.js';
import type { ScenarioName, StepResult } from './types.js';

export interface ChartFile {
  /** Appended to the results' base name: <base>-<suffix>.svg */
  suffix: string;
  title: string;
  svg: string;
}

const MB = 1e6;

function byMethod(rows: StepResult[]): Map<string, StepResult[]> {
  const m = new Map<string, StepResult[]>();
  for (const r of rows) m.set(r.method, [...(m.get(r.method) ?? []), r].sort((a, b) => a.n - b.n));
  return m;
}

/**
 * Per scenario: time to the last node vs N (the swarm stays flat, rsync grows with N) with the
 * bound, publisher egress vs N, and for each N the completion curves (nodes complete vs time).
 */
export function charts(rows: StepResult[], subtitle: string): ChartFile[] {
  const out: ChartFile[] = [];
  const scenarios = [...new Set(rows.map((r) => r.scenario))] as ScenarioName[];
  for (const sc of scenarios) {
    const rs = rows.filter((r) => r.scenario === sc);
    const methods = byMethod(rs);
    const ns = [...new Set(rs.map((r) => r.n))].sort((a, b) => a - b);
    const bound = ns.map((n): [number, number] => [n, rs.find((r) => r.n === n)!.boundSeconds]);
    const timeSeries: Series[] = [...methods].map(([name, mrs]) => ({
      name,
      points: mrs.filter((r) => r.last !== null).map((r): [number, number] => [r.n, r.last!]),
    }));
    timeSeries.push({ name: 'lower bound', points: bound, dashed: true });
    const t1 = `${sc}: time until the last node is complete`;
    out.push({ suffix: `${sc}-time-vs-n`, title: t1, svg: lineChart({ title: t1, subtitle, xLabel: 'frontends (N)', yLabel: 'seconds', xTicks: ns, series: timeSeries }) });
    if (sc !== 'bootstrap') {
      const t2 = `${sc}: bytes sent by the publisher`;
      const egress: Series[] = [...methods].map(([name, mrs]) => ({ name, points: mrs.map((r): [number, number] => [r.n, r.publisherSent / MB]) }));
      out.push({ suffix: `${sc}-egress-vs-n`, title: t2, svg: lineChart({ title: t2, subtitle, xLabel: 'frontends (N)', yLabel: 'MB', xTicks: ns, series: egress }) });
      for (const n of ns) {
        const t3 = `${sc}, N=${n}: nodes complete over time`;
        const curves: Series[] = [...methods].map(([name, mrs]) => {
          const times = (mrs.find((r) => r.n === n)?.completions ?? []).filter((t): t is number => t !== null).sort((a, b) => a - b);
          return { name, step: true, points: [[0, 0] as [number, number], ...times.map((t, i): [number, number] => [t, i + 1])] };
        });
        out.push({ suffix: `${sc}-n${n}-curve`, title: t3, svg: lineChart({ title: t3, subtitle, xLabel: 'seconds', yLabel: 'nodes complete', yInteger: true, series: curves }) });
      }
    }
  }
  return out;
}
