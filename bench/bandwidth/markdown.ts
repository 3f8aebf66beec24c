import { CPU_BOUND_BUSY } from './load.js';
import type { Image, ScenarioName, StepResult } from './types.js';

export interface ReportInput {
  at: string;
  command: string;
  rate: number;
  rateNote: string;
  image: Image;
  pieceLength: number;
  methods: Array<{ name: string; description: string } | { name: string; skipped: string }>;
  rows: StepResult[];
  charts: Array<{ file: string; title: string }>;
}

const MB = 1e6;
const SCENARIO_TEXT: Record<ScenarioName, string> = {
  cold: 'cold rollout of release 1 to N frontends',
  incremental: 'incremental update to release 2 (1% of the files changed)',
  bootstrap: 'bootstrap: a new node joins after the rollout, the publisher stopped (sources: the N frontends)',
};

const sec = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));
/** The earliest of the nodes' first-byte times. */
const spreadFirst = (times: Array<number | null> | undefined) => {
  const known = (times ?? []).filter((t): t is number => t !== null);
  return known.length > 0 ? Math.min(...known) : null;
};
const mb = (v: number) => (v / MB).toFixed(v < 10 * MB ? 2 : 1);

export function markdown(r: ReportInput): string {
  const d = r.image.delta;
  const out: string[] = [
    `# Bandwidth benchmark, ${r.at}`,
    '',
    `Command: \`${r.command}\``,
    '',
    `- Link: every node's upload and download capped at **${(r.rate / MB).toFixed(2)} MB/s**. ${r.rateNote}`,
    `- Image: ${mb(r.image.v1Bytes)} MB in ${r.image.files} files; release 2 changes ${d.edited + d.appended + d.added + d.removed} files ` +
      `(${d.edited} edited in the middle, ${d.appended} appended, ${d.added} added, ${d.removed} removed), ${(d.bytes / 1e3).toFixed(0)} KB of new content.`,
    `- Torrent piece length ${r.pieceLength / 1024} KiB. Times are from the moment the release is available at the publisher ` +
      '(publish and torrent creation are done before the clock starts) until each node has the whole release.',
    '- Bound: Kumar–Ross, T = max(S/U_pub, S/D_min, N·S/(U_pub + ΣU_i)), S = bytes each node needs; for bootstrap the N frontends are the sources.',
    '- "publisher sent" and "on the wire" are payload bytes as each tool counts them (piece bytes for the swarms, rsync\'s "Total bytes received").',
    `- CPU: share of all cores busy during the step, the whole machine (in brackets: the benchmark's own processes); **⚠** marks a machine mean above ${CPU_BOUND_BUSY * 100}%: there the CPU, not the link, may have set the pace.`,
    '',
    '## Methods',
    '',
    ...r.methods.map((m) => ('skipped' in m ? `- **${m.name}**: skipped: ${m.skipped}` : `- **${m.name}**: ${m.description}`)),
    '',
  ];
  for (const sc of ['cold', 'incremental', 'bootstrap'] as ScenarioName[]) {
    const rows = r.rows.filter((x) => x.scenario === sc).sort((a, b) => a.n - b.n || a.method.localeCompare(b.method));
    if (rows.length === 0) continue;
    out.push(`## ${SCENARIO_TEXT[sc]}`, '', `S = ${mb(rows[0]!.bytesPerNode)} MB per node.`, '');
    // Time to first byte, where measured: the first node's, in its own column.
    const ttfb = rows.some((x) => x.firstByte);
    // bench --netns: the kernel's count of the same, every header and protocol included.
    const links = rows.some((x) => x.links);
    out.push(`| N | method |${ttfb ? ' first byte (s) |' : ''} first (s) | median (s) | last (s) | bound (s) | last / bound | publisher sent (MB) | on the wire (MB) |${links ? ' links: publisher sent / received (MB) |' : ''} CPU |`);
    out.push(`|---:|---|${ttfb ? '---:|' : ''}---:|---:|---:|---:|---:|---:|---:|${links ? '---:|' : ''}---:|`);
    for (const x of rows) {
      const last = x.incomplete > 0 ? `${x.incomplete} of ${x.receivers} incomplete` : sec(x.last);
      const cpu = `${(x.load.cpuBusy * 100).toFixed(0)}% (${(x.load.ownCpu * 100).toFixed(0)}%)${x.load.cpuBound ? ' ⚠' : ''}`;
      const firstByte = ttfb ? ` ${sec(spreadFirst(x.firstByte))} |` : '';
      const link = links ? ` ${x.links ? `${mb(x.links.publisherSent)} / ${mb(x.links.received)}` : 'n/a'} |` : '';
      out.push(`| ${x.n} | ${x.method} |${firstByte} ${sec(x.first)} | ${sec(x.median)} | ${last} | ${x.boundSeconds.toFixed(2)} | ${x.ratio === null ? 'n/a' : x.ratio.toFixed(2)} | ${mb(x.publisherSent)} | ${mb(x.received)} |${link} ${cpu} |`);
    }
    const notes = rows.filter((x) => x.note).map((x) => `- N=${x.n} ${x.method}: ${x.note}`);
    if (notes.length > 0) out.push('', ...notes);
    out.push('');
  }
  const bound = r.rows.filter((x) => x.load.cpuBound);
  out.push('## Was the machine the bottleneck?', '');
  out.push(bound.length === 0
    ? `No step kept the two cores busy above ${CPU_BOUND_BUSY * 100}% on average: the emulated links set the pace.`
    : `Yes, in ${bound.length} of ${r.rows.length} steps (⚠ above): ${bound.map((x) => `${x.scenario} N=${x.n} ${x.method}`).join(', ')}. ` +
      'Their times include waiting for CPU. ' +
      (bound.some((x) => x.load.ownCpu < x.load.cpuBusy / 2)
        ? 'Where the benchmark\'s own share (in brackets) is under half of the total, other work on the machine took the cores: rerun on a quiet machine. '
        : '') +
      'Where it is most of it, lower --rate for figures the link alone determines.');
  out.push('', '## Charts', '', ...r.charts.map((c) => `![${c.title}](${c.file})`), '');
  return out.join('\n');
}
