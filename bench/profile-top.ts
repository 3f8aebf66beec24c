/**
 * The top self-time entries of V8 CPU profiles (node --cpu-prof), one table per file:
 *   node dist/bench/profile-top.js <file.cpuprofile>... [--top 15]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { benchCommandLine } from './lib/args.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = benchCommandLine(
  `node dist/bench/profile-top.js <file.cpuprofile>... [--top N]
  --top N          entries per profile (default 15)`,
  { top: { type: 'string', default: '15' } },
  { positionals: true },
);

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const where = f.url ? `${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const total = (p.endTime - p.startTime) / 1000;
  console.log(`\n${basename(file)}: ${(total / 1000).toFixed(2)} s`);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((us / 1000 / total) * 100).toFixed(1).padStart(5)} %  ${key}`);
  }
}
