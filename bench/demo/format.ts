/** Output helpers for the demo: decimal units (the link rates are given in bytes per second). */

export const MB = 1e6;

export function mb(bytes: number, digits = 1): string {
  return `${(bytes / MB).toFixed(digits)} MB`;
}

/** For amounts that may be tiny (an update's new data): KB below 0.1 MB, more digits below 1 MB. */
export function size(bytes: number): string {
  if (bytes === 0) return '0 B';
  if (bytes < 0.1 * MB) return `${(bytes / 1e3).toFixed(1)} KB`;
  return mb(bytes, bytes < MB ? 2 : 1);
}

export function secs(s: number): string {
  return `${s.toFixed(1)} s`;
}

export function times(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}

/** Headline of a step, with a blank line before it so that each step stands apart. */
export function headline(text: string): void {
  process.stdout.write(`\n${text}\n`);
}

const WIDTH = Math.min(process.stdout.isTTY ? process.stdout.columns || 100 : 100, 120);

/** Word-wraps to the terminal (100 columns in a log), continuation lines indented by `hang`. */
function wrap(first: string, hang: string, text: string): string {
  const lines: string[] = [];
  let cur = first;
  for (const word of text.split(' ')) {
    if (cur.length + word.length + 1 > WIDTH && cur.trim().length > first.trim().length) {
      lines.push(cur.trimEnd());
      cur = hang;
    }
    cur += (cur === first || cur === hang ? '' : ' ') + word;
  }
  lines.push(cur);
  return lines.join('\n') + '\n';
}

/** An explanatory line under a headline. */
export function note(text: string): void {
  process.stdout.write(wrap('   ', '     ', text));
}

/** The conclusion of a step. */
export function conclude(text: string): void {
  process.stdout.write(wrap('   => ', '      ', text));
}

/** Indents another program's output under the current step. */
export function quote(text: string): void {
  for (const line of text.trimEnd().split('\n')) process.stdout.write(`      ${line}\n`);
}

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
