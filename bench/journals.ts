/**
 * bench/journals: what a long run of releases leaves in a master's object journals. A generated
 * tree (default 20,000 files in directories of 200), then `--releases` publishes in a row, each
 * editing one file in every directory (the worst case for a tree of objects: every directory's
 * tree object is new). After each: the journals' bytes on disk, and the time a new process takes
 * to index them (every command and every start does it once). Every publish runs gc, which
 * compacts the journals once they hold twice what the last compaction kept plus 16 MiB.
 *   npm run bench:journals [-- --files 20000 --releases 40]
 */
import { appendFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectHash } from '../src/core/index.js';
import { ObjectStore } from '../src/store/index.js';
import { benchArgs } from './lib/args.js';
import { generateTree } from './lib/gen-tree.js';
import { runBench } from './lib/results.js';
import { median } from './lib/stats.js';
import { cli } from './lib/run.js';

const values = benchArgs(
  `npm run bench:journals [-- options]
  --files N        files in the tree (default 20000, 200 per directory)
  --releases K     publishes after the first (default 40)
  --keep           keep the work directory`,
  { files: { type: 'string', default: '20000' }, releases: { type: 'string', default: '40' }, keep: { type: 'boolean', default: false } },
);
const files = Number(values.files);
const releases = Number(values.releases);
const MB = 1e6;

async function journalBytes(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) if (name.endsWith('.journal')) n += (await stat(join(dir, name))).size;
  return n;
}

/** What a new process spends indexing the journals: its first question to the store. */
function indexMs(objectsDir: string): number {
  const t0 = performance.now();
  new ObjectStore(objectsDir).has('0'.repeat(64) as ObjectHash);
  return performance.now() - t0;
}

runBench('journals', values.keep, async (work) => {
  const src = join(work, 'src');
  const gen = await generateTree(src, { bytes: files * 2048, files, perDir: 200, seed: 11 });
  const dirs = [...new Set(gen.paths.map((p) => p.slice(0, p.lastIndexOf('/'))))].map((d) => gen.paths.find((p) => p.startsWith(`${d}/`))!);
  await cli(['init', '--dir', join(work, 'pub'), '--publisher']);
  const cfg = join(work, 'pub', 'swarm.config.json');
  const objectsDir = join(work, 'pub', 'data', 'objects');
  const journalDir = join(objectsDir, 'journal');
  await cli(['-c', cfg, 'publish', src]);
  const rows: Array<{ release: number; journalMB: number; grewMB: number; indexMs: number; publishS: number }> = [];
  let before = await journalBytes(journalDir);
  for (let r = 2; r <= releases + 1; r++) {
    for (const path of dirs) await appendFile(join(src, path), `edit ${r}\n`);
    const p = await cli(['-c', cfg, 'publish', src]);
    const now = await journalBytes(journalDir);
    const row = { release: r, journalMB: now / MB, grewMB: (now - before) / MB, indexMs: indexMs(objectsDir), publishS: p.seconds };
    rows.push(row);
    console.log(`release ${r}: journals ${row.journalMB.toFixed(1)} MB (${row.grewMB >= 0 ? '+' : ''}${row.grewMB.toFixed(1)}), indexed by a new process in ${row.indexMs.toFixed(0)} ms; publish ${row.publishS.toFixed(2)} s`);
    before = now;
  }
  const growth = median(rows.filter((x) => x.grewMB > 0).map((x) => x.grewMB)) ?? 0;
  const compactions = rows.filter((x) => x.grewMB < 0).map((x) => x.release);
  const first = rows[0]!.journalMB - rows[0]!.grewMB;
  const uncompacted = first + growth * rows.length;
  const peak = Math.max(...rows.map((x) => x.journalMB));
  console.log(
    `${gen.files} files in ${dirs.length} directories, ${rows.length} releases: each added ${growth.toFixed(2)} MB of objects (median); ` +
      `compacted at releases ${compactions.join(', ') || '-'}; journals at most ${peak.toFixed(1)} MB, ${rows.at(-1)!.journalMB.toFixed(1)} MB at the end, ` +
      `where nothing removed them they would hold ~${uncompacted.toFixed(0)} MB; indexing them at start: median ${(median(rows.map((x) => x.indexMs)) ?? 0).toFixed(0)} ms, ` +
      `at most ${Math.max(...rows.map((x) => x.indexMs)).toFixed(0)} ms`,
  );
  return { files: gen.files, dirs: dirs.length, releases: rows.length, growthMBPerRelease: growth, compactions, peakMB: peak, uncompactedMB: uncompacted, rows };
});
