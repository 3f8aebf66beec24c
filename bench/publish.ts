/**
 * bench/publish: chunk+hash throughput (one core, in process), a cold publish of a generated tree
 * (default 1 GiB), and a no-change re-publish of a many-file tree (default 50,000) next to
 * `rsync -an` over the same tree, by the command alone and through the master's running `serve`.
 *   npm run bench:publish [-- --gib 1 --files 50000]
 */
import { rm } from 'node:fs/promises';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { ChunkHasher } from '../src/manifest/index.js';
import { benchArgs } from './lib/args.js';
import { LocalCluster } from './lib/cluster.js';
import { generateTree } from './lib/gen-tree.js';
import { runBench } from './lib/results.js';
import { DEFAULT_SCRATCH } from './lib/scratch-fs.js';
import { cli, cpuNote, timed } from './lib/run.js';
import { ensureTool } from './lib/tools.js';

const values = benchArgs(
  `npm run bench:publish [-- options]
  --gib GIB        size of the tree of the cold publish (default 1)
  --files N        files in the tree of the no-change re-publish (default 50000)
  --in-tmp         work in the temp directory's filesystem, not on a new ext4 the bench makes
  --keep           keep the work directory`,
  { gib: { type: 'string', default: '1' }, files: { type: 'string', default: '50000' }, keep: { type: 'boolean', default: false }, 'in-tmp': { type: 'boolean', default: false } },
);
const gib = Number(values.gib);
const manyFiles = Number(values.files);
const MB = 1e6;

function perCoreThroughput(totalBytes: number): number {
  const buf = Buffer.allocUnsafe(1 << 20);
  randomFillSync(buf);
  const h = new ChunkHasher();
  const t0 = performance.now();
  let chunks = 0;
  for (let done = 0; done < totalBytes; done += buf.length) chunks += h.write(buf).length;
  chunks += h.end().length;
  const s = (performance.now() - t0) / 1000;
  if (chunks === 0) throw new Error('no chunks');
  return totalBytes / MB / s;
}

runBench('publish', { keep: values.keep, scratch: values['in-tmp'] ? null : DEFAULT_SCRATCH }, async (work) => {
  const core = perCoreThroughput(512 << 20);
  console.log(`chunk+hash, one core, in process: ${core.toFixed(0)} MB/s`);

  // Cold publish of a large tree.
  const big = join(work, 'big');
  const gen = await generateTree(big, { bytes: Math.round(gib * 2 ** 30), files: 2000, seed: 7 });
  await cli(['init', '--dir', join(work, 'pub'), '--publisher']);
  const cfg = join(work, 'pub', 'swarm.config.json');
  const cold = await cli(['-c', cfg, 'publish', big, '--json']);
  const coldSummary = JSON.parse(cold.stdout) as { mbPerSec: number; hashedBytes: number; seconds: number };
  const coldWallMBps = gen.bytes / MB / cold.seconds;
  console.log(
    `cold publish: ${(gen.bytes / 2 ** 30).toFixed(2)} GiB in ${gen.files} files, ${cold.seconds.toFixed(1)} s wall ` +
      `(${coldWallMBps.toFixed(0)} MB/s end to end incl. copy into the release; chunk+hash phase ${coldSummary.mbPerSec.toFixed(0)} MB/s)`,
  );
  await rm(big, { recursive: true, force: true });

  // No-change re-publish of many files vs rsync -an.
  const many = join(work, 'many');
  await generateTree(many, { bytes: manyFiles * 2048, files: manyFiles, perDir: 250, seed: 9 });
  await cli(['init', '--dir', join(work, 'pub2'), '--publisher']);
  const cfg2 = join(work, 'pub2', 'swarm.config.json');
  await new Promise((r) => setTimeout(r, 1100)); // outside the stat cache's racy window
  await cli(['-c', cfg2, 'publish', many, '--json']);
  const again = await cli(['-c', cfg2, 'publish', many, '--json']);
  const againSummary = JSON.parse(again.stdout) as { version: number | null; hashedFiles: number };
  if (againSummary.version !== null || againSummary.hashedFiles !== 0) throw new Error('re-publish of an unchanged tree was not a no-op');
  console.log(`no-change re-publish of ${manyFiles} files: ${again.seconds.toFixed(2)} s${cpuNote(again)}`);
  const byNode = await noChangeByNode(work, many);
  console.log(`the same through the master's running serve (median of ${byNode.runs.length}): ${byNode.seconds.toFixed(2)} s (${byNode.runs.map((r) => r.toFixed(2)).join(', ')})`);

  let rsync: { seconds: number; cpuSeconds: number | null } | { skipped: string };
  const tool = ensureTool('rsync');
  if (tool.ok) {
    const mirror = join(work, 'mirror');
    await timed('rsync', ['-a', `${many}/`, `${mirror}/`]);
    await timed('rsync', ['-an', `${many}/`, `${mirror}/`]); // warm the dentry cache for both sides
    const r = await timed('rsync', ['-an', `${many}/`, `${mirror}/`]);
    rsync = { seconds: r.seconds, cpuSeconds: r.cpuSeconds };
    console.log(`rsync -an over the same tree: ${r.seconds.toFixed(2)} s${cpuNote(r)}`);
  } else {
    rsync = { skipped: tool.reason };
    console.log(`rsync comparison skipped: ${tool.reason}`);
  }

  return {
    perCoreMBps: core,
    cold: { bytes: gen.bytes, files: gen.files, wallSeconds: cold.seconds, endToEndMBps: coldWallMBps, hashPhaseMBps: coldSummary.mbPerSec },
    noChange: { files: manyFiles, seconds: again.seconds, cpuSeconds: again.cpuSeconds, rsyncDryRun: rsync, byNode },
  };
});

/**
 * `chunkswarm publish` of an unchanged tree while the master's `serve` runs (the node publishes):
 * the first publish makes release 1 and warms the node; then the median of five no-change runs.
 */
async function noChangeByNode(work: string, source: string): Promise<{ seconds: number; runs: number[] }> {
  const cluster = await LocalCluster.create({ dir: join(work, 'node'), followers: 0, netGuard: true });
  try {
    cluster.start(cluster.publisher);
    await cluster.waitFor('the master to run', async () => (await cluster.status(cluster.publisher)) !== null);
    const P = ['-c', cluster.publisher.config];
    await cli([...P, 'publish', source, '--json']);
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await cli([...P, 'publish', source, '--json']);
      if ((JSON.parse(r.stdout) as { version: number | null }).version !== null) throw new Error('a no-change publish through the node published something');
      runs.push(r.seconds);
    }
    const asked = await cluster.publishesByNode();
    if (asked !== 6) throw new Error(`the node ran ${asked} of the 6 publishes: the others ran in the command`);
    const sorted = [...runs].sort((a, b) => a - b);
    return { seconds: sorted[2]!, runs };
  } finally {
    await cluster.close();
  }
}
