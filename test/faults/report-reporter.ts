/**
 * The fault suite's closing table (`npm run test:faults`): faults tried / survived, bad inputs
 * tried / refused, bytes lost. Tests under test/faults declare what they try (record.ts); the
 * older tests that already cover part of the issue count one case per test, listed below. A case
 * counts as survived / refused only if its test passed; a skipped test counts as not tried.
 * Set CHUNKSWARM_FAULT_REPORT to a path to also get the table as JSON.
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import type { FaultMeta } from './record.js';

/** Existing tests that check part of the issue, by file and (full) test name. */
const EXISTING: Array<{ file: string; kind: FaultMeta['kind']; group: string; name?: RegExp }> = [
  { file: 'test/integration/deploy-enospc.test.ts', kind: 'fault', group: '4 disk full while staging' },
  { file: 'test/integration/deploy-crash.test.ts', kind: 'fault', group: '5 crash in staging / activation' },
  { file: 'test/integration/deploy-recover.test.ts', kind: 'fault', group: '5 crash in staging / activation' },
  { file: 'test/unit/manifest-encoding.test.ts', kind: 'bad-input', group: 'objects', name: /decoding rejects|encoding refuses|rejects unsafe names/ },
  { file: 'test/unit/manifest-fuzz.test.ts', kind: 'bad-input', group: 'objects (fuzz properties)', name: /random|mutated/ },
  { file: 'test/integration/deploy-unsafe.test.ts', kind: 'bad-input', group: 'objects (staging)' },
  { file: 'test/integration/source-data-pack.test.ts', kind: 'bad-input', group: 'objects', name: /refused by hash/ },
  { file: 'test/unit/wire-abuse.test.ts', kind: 'bad-input', group: 'peers', name: /drops|refuses|counts abuse/ },
  { file: 'test/integration/deploy-stager.test.ts', kind: 'bad-input', group: 'peers', name: /asks for the part of a piece it lacks/ },
  { file: 'test/integration/swarm-connect.test.ts', kind: 'bad-input', group: 'peers', name: /authenticates members only|rejects malformed|refuses to start/ },
  { file: 'test/unit/config.test.ts', kind: 'bad-input', group: 'config', name: /names the bad field|refused when readable/ },
  { file: 'test/integration/publish-cli.test.ts', kind: 'bad-input', group: 'config', name: /refuses a private key|names the bad field/ },
  { file: 'test/unit/fleet-drift.test.ts', kind: 'bad-input', group: 'drift pull', name: /refuses|never writes/ },
  { file: 'test/integration/fleet.test.ts', kind: 'bad-input', group: 'drift pull', name: /bad drift pulls|drift pull from it is refused/ },
  { file: 'test/unit/fleet.test.ts', kind: 'bad-input', group: 'fleet reports', name: /refuses|ignores keys outside/ },
  { file: 'test/unit/fleet-gossip.test.ts', kind: 'bad-input', group: 'fleet reports', name: /malformed digest is refused/ },
];

interface Row {
  kind: FaultMeta['kind'];
  group: string;
  tried: number;
  handled: number;
  failed: number;
  skipped: number;
  bytesLost: number;
  /** Fault tests that failed before measuring what was lost. */
  unmeasured: number;
  notes: string[];
}

export default class FaultReportReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const rows = new Map<string, Row>();
    const row = (kind: FaultMeta['kind'], group: string) => {
      const key = `${kind}\0${group}`;
      if (!rows.has(key)) rows.set(key, { kind, group, tried: 0, handled: 0, failed: 0, skipped: 0, bytesLost: 0, unmeasured: 0, notes: [] });
      return rows.get(key)!;
    };
    for (const m of modules) {
      const file = relative(process.cwd(), m.moduleId);
      for (const t of m.children.allTests()) {
        const declared = t.meta().chunkswarmFaults;
        const known = EXISTING.find((e) => e.file === file && (!e.name || e.name.test(t.fullName)));
        if (!declared && !known) continue;
        const r = row(declared?.kind ?? known!.kind, declared?.group ?? known!.group);
        const state = t.result().state;
        if (state === 'skipped' || state === 'pending') {
          r.skipped++;
          continue;
        }
        const n = declared?.tried ?? 1;
        r.tried += n;
        if (state === 'passed') r.handled += n;
        else r.failed++;
        if (r.kind === 'fault' && declared) {
          if (declared.bytesLost === undefined) r.unmeasured++;
          else r.bytesLost += declared.bytesLost;
        }
        r.notes.push(...(declared?.notes ?? []));
      }
    }
    const table = [...rows.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.group.localeCompare(b.group));
    process.stdout.write(render(table));
    if (process.env.CHUNKSWARM_FAULT_REPORT) writeFileSync(process.env.CHUNKSWARM_FAULT_REPORT, JSON.stringify(table, null, 2) + '\n');
  }
}

function render(rows: Row[]): string {
  const sum = (kind: FaultMeta['kind'], f: (r: Row) => number) => rows.filter((r) => r.kind === kind).reduce((n, r) => n + f(r), 0);
  const lines = ['', 'chunkswarm fault suite', `${'kind'.padEnd(10)} ${'case'.padEnd(34)} ${'tried'.padStart(6)} ${'handled'.padStart(8)} ${'bytes lost'.padStart(11)}`];
  for (const r of rows) {
    const lost = r.kind === 'fault' ? (r.unmeasured > 0 ? `${r.bytesLost}+?` : String(r.bytesLost)) : '';
    const extra = [r.failed ? `${r.failed} test(s) failed` : '', r.skipped ? `${r.skipped} skipped` : ''].filter(Boolean).join(', ');
    lines.push(`${r.kind.padEnd(10)} ${r.group.padEnd(34)} ${String(r.tried).padStart(6)} ${String(r.handled).padStart(8)} ${lost.padStart(11)}${extra ? `  (${extra})` : ''}`);
    for (const n of r.notes) lines.push(`${''.padEnd(12)}- ${n}`);
  }
  const unmeasured = sum('fault', (r) => r.unmeasured);
  lines.push(
    '',
    `faults tried / survived: ${sum('fault', (r) => r.tried)} / ${sum('fault', (r) => r.handled)}`,
    `bad inputs tried / refused: ${sum('bad-input', (r) => r.tried)} / ${sum('bad-input', (r) => r.handled)}`,
    `bytes lost: ${sum('fault', (r) => r.bytesLost)}${unmeasured ? ` (${unmeasured} test(s) did not measure it: they failed, or check the live tree otherwise)` : ''}`,
    '',
  );
  return lines.join('\n');
}
