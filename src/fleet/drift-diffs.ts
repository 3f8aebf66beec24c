import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DriftReport } from '../deploy/index.js';
import { checkRelativePath, driftRecordIds } from './drift-bundle.js';
import { isBinary, unifiedDiff } from './text-diff.js';

/** A drift record as the dashboard shows it: each path with a unified diff against its release, where both are text. */
export interface DriftRecordView {
  id: string;
  version: number;
  created: string;
  pulled: boolean;
  paths: Array<{ letter: 'A' | 'D' | 'M' | 'P'; path: string; binary: boolean; diff: string | null }>;
}

const LETTER = { added: 'A', removed: 'D', modified: 'M', type: 'M', meta: 'P' } as const;
const MAX_DIFF_CHARS = 64 * 1024;

/** The newest `max` drift records of this node, with diffs (release file -> preserved copy). */
export async function driftRecordViews(driftDir: string, releaseDir: (version: number) => string, max: number): Promise<DriftRecordView[]> {
  const { all, unpulled } = await driftRecordIds(driftDir);
  const out: DriftRecordView[] = [];
  for (const id of all.slice(-max).reverse()) {
    const report = JSON.parse(await readFile(join(driftDir, id, 'report.json'), 'utf8').catch(() => 'null')) as DriftReport | null;
    if (!report) continue;
    const preserved = new Set(report.preserved);
    const paths: DriftRecordView['paths'] = [];
    for (const e of report.entries) {
      checkRelativePath(e.path);
      const letter = LETTER[e.kind];
      if (letter === 'D' || letter === 'P' || !preserved.has(e.path)) {
        paths.push({ letter, path: e.path, binary: false, diff: null });
        continue;
      }
      const after = await regularFile(join(driftDir, id, e.path));
      const before = letter === 'M' ? await regularFile(join(releaseDir(report.version), e.path)) : null;
      const binary = (after !== null && isBinary(after)) || (before !== null && isBinary(before));
      const diff = after === null || binary ? null : unifiedDiff(e.path, before, after);
      paths.push({ letter, path: e.path, binary, diff: diff && diff.length > MAX_DIFF_CHARS ? `${diff.slice(0, MAX_DIFF_CHARS)}\n[... cut at ${MAX_DIFF_CHARS} characters]\n` : diff });
    }
    out.push({ id, version: report.version, created: report.created, pulled: !unpulled.includes(id), paths });
  }
  return out;
}

async function regularFile(path: string): Promise<Buffer | null> {
  const st = await lstat(path).catch(() => null);
  return st?.isFile() ? readFile(path) : null;
}
