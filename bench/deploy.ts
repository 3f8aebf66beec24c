/**
 * bench/deploy: what a 1%-changed release of a many-file tree (default 50,000 files) costs a
 * frontend, next to what the users run today (rsync --delete from the master's tree).
 * The follower stages from the publisher's data directory on this machine
 * (`chunkswarm activate <v> --source-data`, every byte verified), so the figures are the deploy's
 * own cost, without the network (bench/transfer measures that). The master's `serve` runs, so
 * `chunkswarm publish` is done by it, as on a real master (`--local`: by the command alone).
 *   npm run bench:deploy [-- --files 50000 --mb 100 --local]
 *   BENCH_PROFILE_DIR=/tmp/prof npm run bench:deploy   (a CPU profile of each chunkswarm step)
 */
import { join } from 'node:path';
import type { DeployResult, PublishSummary, VerifyResult } from '../src/index.js';
import { findDonors, loadRelease } from '../src/deploy/index.js';
import { sharedWithLive } from '../src/deploy/inode-map.js';
import { ownerOf } from '../src/deploy/stage-fs.js';
import { InodeCache, ObjectStore, ReleaseStore } from '../src/store/index.js';
import { LocalCluster } from './lib/cluster.js';
import { generateTree } from './lib/gen-tree.js';
import { benchArgs } from './lib/args.js';
import { runBench } from './lib/results.js';
import { DEFAULT_SCRATCH } from './lib/scratch-fs.js';
import { cpuDuring } from './lib/proc-cpu.js';
import { cli, cpuNote, settleWriteback, timed } from './lib/run.js';
import { ensureTool } from './lib/tools.js';
import { editTree, onePercent } from './lib/tree-edit.js';

const values = benchArgs(
  `npm run bench:deploy [-- options]
  --files N        files in the tree (default 50000)
  --mb MB          its size in MB (default 100)
  --local          publish in the command (publish --local) instead of through the master's serve
  --in-tmp         work in the temp directory's filesystem, not on a new ext4 the bench makes
  --keep           keep the work directory
BENCH_PROFILE_DIR=DIR writes a CPU profile of each chunkswarm step (and of the master's serve) into DIR`,
  {
    files: { type: 'string', default: '50000' }, mb: { type: 'string', default: '100' }, local: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'in-tmp': { type: 'boolean', default: false },
  },
);
const files = Number(values.files);
const bytes = Math.round(Number(values.mb) * 1e6);

async function csJson<T>(args: string[], profile?: string): Promise<{ r: T; seconds: number; cpuSeconds: number | null }> {
  const { stdout, seconds, cpuSeconds } = await cli([...args, '--json'], profile ? { profile } : {});
  return { r: JSON.parse(stdout) as T, seconds, cpuSeconds };
}

/** rsync's own count of what it would send and delete (`--stats`). */
function rsyncCounts(stats: string): { transferred: number; deleted: number } {
  const num = (re: RegExp) => Number((stats.match(re)?.[1] ?? 'NaN').replace(/,/g, ''));
  return { transferred: num(/Number of regular files transferred: ([\d,]+)/), deleted: num(/Number of deleted files: ([\d,]+)/) };
}

runBench('deploy', { keep: values.keep, scratch: values['in-tmp'] ? null : DEFAULT_SCRATCH }, async (work) => {
  const src = join(work, 'src');
  const gen = await generateTree(src, { bytes, files, perDir: 250, seed: 5 });
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const cluster = await LocalCluster.create({
    dir: join(work, 'cluster'), followers: 0, netGuard: true, nodeArgs: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
  });
  try {
    return await run(work, src, gen, cluster);
  } finally {
    await cluster.close();
  }
});

async function run(work: string, src: string, gen: { files: number; bytes: number; paths: string[] }, cluster: LocalCluster) {
  const master = cluster.publisher;
  // A member of the cluster, stopped but for the last measurement (verify asked of its running node).
  const fol = await cluster.addFollower('fol');
  const P = ['-c', master.config];
  const F = ['-c', fol.config];
  const fromPub = ['--source-data', master.dataDir];
  if (!values.local) {
    cluster.start(master);
    await cluster.waitFor('the master to run', async () => (await cluster.status(master)) !== null);
  }
  let publishes = 0;
  /** The command's CPU, and the master's while it published for it. */
  const publish = async (profile: string) => {
    // Through the master's running `serve` where it runs; by the command alone (--local) where it is stopped.
    const pid = master.proc?.pid;
    const { result: r, cpuSeconds: node } = await cpuDuring(pid, () => csJson<PublishSummary>([...P, 'publish', src, ...(pid === undefined ? ['--local'] : [])], profile));
    if (pid !== undefined) publishes++;
    return { ...r, cpuSeconds: r.cpuSeconds === null ? null : r.cpuSeconds + (node ?? 0) };
  };
  await new Promise((r) => setTimeout(r, 1100)); // outside the stat cache's racy window

  settleWriteback();
  const v1 = await publish('publish-1');
  settleWriteback();
  const first = await csJson<DeployResult>([...F, 'activate', '1', ...fromPub], 'first-deploy');
  console.log(
    `tree: ${gen.files} files, ${(gen.bytes / 1e6).toFixed(0)} MB; publishes by ${values.local ? 'the command (--local)' : "the master's running serve"}; ` +
      `publish 1: ${v1.seconds.toFixed(1)} s${cpuNote(v1)}; ` +
      `first deploy on the follower (everything staged): ${first.seconds.toFixed(1)} s${cpuNote(first)}`,
  );

  // What users do today: the frontend holds a copy of the old tree and rsyncs the new one over it.
  const rsync = ensureTool('rsync');
  const mirror = join(work, 'mirror');
  if (rsync.ok) await timed('rsync', ['-a', `${src}/`, `${mirror}/`]);
  else console.log(`rsync comparison skipped: ${rsync.reason}`);
  // The floors: a plain copy of the tree (first deploy) and an lstat of every file (quick verify).
  settleWriteback();
  const cp = await timed('cp', ['-a', src, join(work, 'cp-copy')]);
  const walk = await timed('find', [`${fol.live}/`, '-printf', '%s\n']);
  console.log(`cp -a of the tree: ${cp.seconds.toFixed(1)} s${cpuNote(cp)}; find + lstat of the live tree: ${walk.seconds.toFixed(2)} s${cpuNote(walk)}`);

  // Each update: 1 % of the files changed, published, staged and activated on the follower, and the
  // same change rsynced onto the mirror. Releases accumulate up to releases.keep (3): update 2
  // stages into a fresh directory (a hard link per unchanged file), update 4 into the tree of
  // release 1, which it replaces (what every update after the third costs).
  let paths = gen.paths;
  /** `byNode`: the follower's `serve` runs and stages the release (the master's is stopped, so that the follower cannot fetch it itself). */
  const update = async (round: number, o: { byNode?: boolean } = {}) => {
    const spec = onePercent(files, round + 1);
    const edits = await editTree(src, paths, spec);
    paths = edits.paths;
    const changed = edits.edited.length + edits.appended.length + edits.added.length;
    settleWriteback();
    const pub = await publish(`publish-${round}`);
    settleWriteback();
    const { result: deploy, cpuSeconds: nodeCpuSeconds } = await cpuDuring(o.byNode ? fol.proc?.pid : undefined, () =>
      csJson<DeployResult>([...F, 'activate', String(pub.r.version), ...fromPub], `stage-activate-${round}`));
    const staged = deploy.r.staged!;
    const stagedFiles = pub.r.files - staged.linkedFiles;
    let rsyncResult: Record<string, unknown> = { skipped: rsync.ok ? null : rsync.reason };
    let rsyncText = '';
    if (rsync.ok) {
      const dry = await timed('rsync', ['-an', '--delete', '--stats', `${src}/`, `${mirror}/`]);
      const counts = rsyncCounts(dry.stdout);
      settleWriteback();
      const real = await timed('rsync', ['-a', '--delete', `${src}/`, `${mirror}/`]);
      rsyncResult = { dryRunSeconds: dry.seconds, dryRunCpuSeconds: dry.cpuSeconds, realSeconds: real.seconds, realCpuSeconds: real.cpuSeconds, ...counts };
      rsyncText =
        `\n  rsync -an --delete: ${dry.seconds.toFixed(2)} s, would transfer ${counts.transferred} files and delete ${counts.deleted} ` +
        `(chunkswarm wrote ${stagedFiles}; ${changed} changed or added, ${edits.removed.length} removed); ` +
        `rsync -a --delete (real): ${real.seconds.toFixed(2)} s${cpuNote(real)}`;
    }
    console.log(
      `update ${round}: ${edits.edited.length} edited in the middle, ${edits.appended.length} appended, ${edits.added.length} added, ${edits.removed.length} removed\n` +
        `  publish: ${pub.seconds.toFixed(2)} s${cpuNote(pub)} (${pub.r.hashedFiles} files hashed, ${pub.r.newChunks} new chunks, ${(pub.r.newBytes / 1e6).toFixed(1)} MB new, ` +
        `${pub.r.recycledFrom === null ? 'in a new directory' : `in the tree of release ${pub.r.recycledFrom}`})\n` +
        `  stage+activate (--source-data${o.byNode ? ", asked of the follower's running node" : ''}): ${deploy.seconds.toFixed(2)} s${cpuNote(deploy)}` +
        `${nodeCpuSeconds === null ? '' : ` (the command), node CPU ${nodeCpuSeconds.toFixed(2)} s`}; ${stagedFiles} files written, ${staged.linkedFiles} hard-linked ` +
        `(${staged.recycledFrom === null ? 'in a new directory' : `in the tree of release ${staged.recycledFrom}, ${staged.keptShared} of its files kept on the inode maps' word`}); ` +
        `${staged.fromSource} pieces from the source, ${staged.fromLocal} from local files` + rsyncText,
    );
    return {
      change: { ...spec, changedOrAdded: changed },
      publish: { seconds: pub.seconds, cpuSeconds: pub.cpuSeconds, hashedFiles: pub.r.hashedFiles, newChunks: pub.r.newChunks, newBytes: pub.r.newBytes, recycledFrom: pub.r.recycledFrom },
      stageActivate: {
        seconds: deploy.seconds, cpuSeconds: deploy.cpuSeconds, nodeCpuSeconds, stagedFiles, ...staged,
        source: o.byNode ? "activate --source-data (no network), asked of the follower's running serve" : 'activate --source-data (no network), by the command',
      },
      rsync: rsyncResult,
    };
  };
  const fresh = await update(2);
  await update(3);
  const steady = await update(4);

  const verify = await csJson<VerifyResult>([...F, 'verify'], 'verify');
  const verifyAgain = await csJson<VerifyResult>([...F, 'verify']);
  if (verify.r.entries.length + verifyAgain.r.entries.length > 0) throw new Error('verify found drift on a freshly activated release');
  console.log(
    `verify (quick), first after activation: ${verify.seconds.toFixed(2)} s${cpuNote(verify)} (${verify.r.checked} entries, ${verify.r.hashed} hashed); ` +
      `again: ${verifyAgain.seconds.toFixed(2)} s${cpuNote(verifyAgain)} (${verifyAgain.r.hashed} hashed)`,
  );

  const donorSearch = await donorSearchWithAndWithoutMaps(fol.dataDir);
  console.log(
    `donor search of release 4 in the tree of release 2 (live 3), in-process, read-only, alternating: ` +
      `with the inode maps ${donorSearch.withMaps.map((r) => r.cpuMs.toFixed(0)).join(' / ')} ms CPU (${donorSearch.keptOnMaps} files kept on their word), ` +
      `without ${donorSearch.withoutMaps.map((r) => r.cpuMs.toFixed(0)).join(' / ')} ms CPU`,
  );

  // Whenever the node runs, `chunkswarm verify` is its node's: no process loads the stat cache and the trees.
  cluster.start(fol);
  // Its periodic verify runs first thing: not at the same time as the ones measured.
  await cluster.waitFor('the follower to serve and verify once', async () => (await cluster.status(fol))?.verify != null);
  const byNode: Array<{ seconds: number; cpuSeconds: number | null; nodeCpuSeconds: number | null }> = [];
  for (let i = 0; i < 3; i++) {
    const { result: v, cpuSeconds: nodeCpuSeconds } = await cpuDuring(fol.proc?.pid, () => csJson<VerifyResult>([...F, 'verify']));
    if (v.r.entries.length > 0) throw new Error('verify by the running node found drift on a freshly activated release');
    byNode.push({ seconds: v.seconds, cpuSeconds: v.cpuSeconds, nodeCpuSeconds });
  }
  console.log(
    `verify (quick) asked of the follower's running node: ${byNode.map((v) => v.seconds.toFixed(2)).join(' / ')} s ` +
      `(CPU of the command ${byNode.map((v) => v.cpuSeconds?.toFixed(2) ?? '?').join(' / ')} s, of the node ${byNode.map((v) => v.nodeCpuSeconds?.toFixed(2) ?? '?').join(' / ')} s)`,
  );
  // Update 5, as a frontend takes every update: staged by its running node (in the tree of release 2).
  await cluster.stop(master);
  const steadyByNode = await update(5, { byNode: true });
  await cluster.stop(fol);

  if (!values.local) {
    const asked = await cluster.publishesByNode();
    if (asked !== publishes) throw new Error(`the master's serve ran ${asked} of the ${publishes} publishes: the others ran in the command`);
  }
  return {
    files: gen.files,
    bytes: gen.bytes,
    publishedBy: values.local ? 'the command (publish --local)' : "the master's running serve",
    publish1Seconds: v1.seconds,
    publish1CpuSeconds: v1.cpuSeconds,
    firstDeploySeconds: first.seconds,
    firstDeployCpuSeconds: first.cpuSeconds,
    cpSeconds: cp.seconds,
    cpCpuSeconds: cp.cpuSeconds,
    lstatWalkSeconds: walk.seconds,
    lstatWalkCpuSeconds: walk.cpuSeconds,
    /** The second release: staged in a new directory. */
    update2: fresh,
    /** The fourth: staged in the tree of the first (releases.keep = 3), as every later update. */
    update4: steady,
    /** The fifth, the same change staged by the follower's running `serve` (the master's stopped, the publish by the command). */
    update5: steadyByNode,
    verify: {
      seconds: verify.seconds, cpuSeconds: verify.cpuSeconds, hashed: verify.r.hashed, checked: verify.r.checked,
      againSeconds: verifyAgain.seconds, againCpuSeconds: verifyAgain.cpuSeconds, againHashed: verifyAgain.r.hashed,
      /** The same asked of the follower's running `serve`, three times. */
      byNode,
    },
    donorSearch,
  };
}

/**
 * The part of staging that the inode maps change, alone: the donor search of a release in a
 * recycled tree (release 4 again, in release 2's tree, live 3: the two share most inodes, as
 * update 4's recycled tree and live release did), with and without sharedWithLive, three times
 * each, alternating. Read-only: nothing is linked.
 */
async function donorSearchWithAndWithoutMaps(data: string) {
  const releases = new ReleaseStore(data);
  const objects = new ObjectStore(join(data, 'objects'));
  const inodes = await InodeCache.open(data);
  const [r2, r4] = [(await releases.head(2)).body.root, (await releases.head(4)).body.root];
  const content = await loadRelease(r4, objects, releases.stagingPath(4), { like: r2 });
  const files = content.files.map((f) => ({ path: f.path, entry: f.entry, size: f.file.size }));
  const q = { root: r4, files, releases, objects, inodes, preferred: 3, exclude: 4, tainted: new Set<string>(), owner: ownerOf({}), inPlace: releases.releasePath(2) };
  const out = { withMaps: [] as Array<{ ms: number; cpuMs: number }>, withoutMaps: [] as Array<{ ms: number; cpuMs: number }>, keptOnMaps: 0 };
  for (let i = 0; i < 6; i++) {
    const maps = i % 2 === 1;
    const cpu = process.cpuUsage();
    const t = performance.now();
    const shared = maps ? await sharedWithLive(releases, 2, releases.releasePath(2), 3) : undefined;
    const found = await findDonors({ ...q, ...(shared && { sharedInPlace: shared }) });
    const used = process.cpuUsage(cpu);
    (maps ? out.withMaps : out.withoutMaps).push({ ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000 });
    if (maps) out.keptOnMaps = found.sharedKept;
  }
  return out;
}
