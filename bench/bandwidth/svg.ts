/**
 * A small line chart as SVG text: axes with round ticks, one polyline per series (optionally as
 * steps), a legend. Enough for the benchmark's charts without a charting library.
 */
export interface Series {
  name: string;
  points: Array<[number, number]>;
  /** Draw as a staircase (cumulative counts). */
  step?: boolean;
  dashed?: boolean;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Extra line under the title (settings, caveats). */
  subtitle?: string;
  /** Ticks to label on the x axis (e.g. the N values run); default: round numbers. */
  xTicks?: number[];
  /** The y values are counts: whole-number ticks only. */
  yInteger?: boolean;
}

const W = 720;
const H = 420;
const M = { left: 70, right: 170, top: 56, bottom: 50 };
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Round tick values covering [0, max]. */
export function ticks(max: number, integer = false, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(integer ? 1 : 0, [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!);
  const out: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toPrecision(3).replace(/\.?0+$/, '');
}

export function lineChart(c: Chart): string {
  const all = c.series.flatMap((s) => s.points);
  const xMaxData = Math.max(...all.map((p) => p[0]), 0);
  const xt = c.xTicks ? [0, ...c.xTicks] : ticks(xMaxData);
  const yt = ticks(Math.max(...all.map((p) => p[1]), 0), c.yInteger);
  const xMax = Math.max(xt[xt.length - 1]!, xMaxData) || 1;
  const yMax = yt[yt.length - 1]!;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (v: number) => M.left + (v / xMax) * pw;
  const y = (v: number) => M.top + ph - (v / yMax) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(c.title)}</text>`,
  ];
  if (c.subtitle) out.push(`<text x="${M.left}" y="40" fill="#555">${esc(c.subtitle)}</text>`);
  for (const v of xt) {
    out.push(`<line x1="${x(v)}" y1="${M.top}" x2="${x(v)}" y2="${M.top + ph}" stroke="#eee"/>`);
    out.push(`<text x="${x(v)}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  for (const v of yt) {
    out.push(`<line x1="${M.left}" y1="${y(v)}" x2="${M.left + pw}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts: Array<[number, number]> = [];
    s.points.forEach(([px, py], k) => {
      if (s.step && k > 0) pts.push([px, s.points[k - 1]![1]]);
      pts.push([px, py]);
    });
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ')}"/>`);
    if (!s.step) for (const [a, b] of s.points) out.push(`<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = M.top + 10 + i * 20;
    out.push(`<line x1="${M.left + pw + 12}" y1="${ly}" x2="${M.left + pw + 36}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${M.left + pw + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
