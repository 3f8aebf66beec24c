/**
 * bench/seed: the users' workload end to end on one machine, without link limits (issue 9): a
 * CGI-chroot-like tree (default 20,000 files, 185 MB: mostly ~1.5 KB, some ~40 KB, a few ~2 MB),
 * one publisher and N followers as real `serve` processes set up with the README's commands
 * (init --publisher, init --join), and, in the same run, an rsync daemon the N frontends pull
 * from at once. Scenarios: cold rollout, three updates (10 files edited, 1 added, 1 removed; the
 * third is staged in the tree of the release it replaces, as every update of a node that has run
 * for a while), a new node joining, then every node restarted. Seconds until the last node is live (publish
 * included), ratio to rsync, peak RSS and CPU per node, and seconds until each restarted node serves
 * again; JSON and Markdown in bench/results/.
 *   npm run bench:seed [-- --files 100000 --followers 4 --keep --profile DIR]
 * --profile writes a CPU profile of every serve process (node --cpu-prof) into DIR.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Completions } from './bandwidth/completions.js';
import { LocalCluster, type NodeHandle } from './lib/cluster.js';
import { CpuSampler, MACHINE } from './lib/proc-cpu.js';
import { benchArgs } from './lib/args.js';
import { runBench } from './lib/results.js';
import { DEFAULT_SCRATCH } from './lib/scratch-fs.js';
import { settleWriteback } from './lib/run.js';
import { RsyncDaemon } from './lib/rsync-daemon.js';
import { generateSeedTree, SHAPES, type SeedShape } from './lib/seed-tree.js';
import { ensureTool } from './lib/tools.js';
import { editTree } from './lib/tree-edit.js';

const values = benchArgs(
  `npm run bench:seed [-- options]
  --files N        files in the tree (default 20000)
  --shape NAME     users (default: mostly 1.5 KB files, some 40 KB, a few 2 MB), big (~5 MB files,
                   e.g. --shape big --files 40: issue 10's big-file tree) or sparse (64 MiB disk
                   images of 512 KiB data each, e.g. --shape sparse --files 20)
  --followers N    followers beside the publisher (default 4)
  --timeout S      seconds a scenario may take (default 1800)
  --profile DIR    a CPU profile of every serve process (node --cpu-prof) into DIR
  --node-arg ARG   one more option of node for every serve process (repeatable),
                   e.g. --node-arg=--heap-growing-percent=0 (V8's default heap growth)
  --in-tmp         work in the temp directory's filesystem, not on a new ext4 the bench makes
  --keep           keep the work directory`,
  {
    files: { type: 'string', default: '20000' },
    shape: { type: 'string', default: 'users' },
    followers: { type: 'string', default: '4' },
    timeout: { type: 'string', default: '1800' },
    keep: { type: 'boolean', default: false },
    'in-tmp': { type: 'boolean', default: false },
    profile: { type: 'string' },
    'node-arg': { type: 'string', multiple: true },
  },
);
const FILES = Number(values.files);
if (!(values.shape in SHAPES)) throw new Error(`--shape ${values.shape}: expected one of ${Object.keys(SHAPES).join(', ')}`);
const SHAPE = values.shape as SeedShape;
const N = Number(values.followers);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const MB = 1e6;

type Scenario = 'cold' | 'update' | 'update 3' | 'update 4 (steady)' | 'join';

interface NodeFigures {
  name: string;
  /** CPU seconds (all threads) the node used during the step. */
  cpuSeconds: number | null;
  /** Peak resident memory since the node started (VmHWM), MB. */
  peakRssMB: number | null;
}

interface StepResult {
  scenario: Scenario;
  /** Seconds from the step's start (before publish) until each node was live; null: timed out. */
  chunkswarm: Array<number | null>;
  publishSeconds: number | null;
  rsync: Array<number | null>;
  /** The last node, chunkswarm / rsync. */
  ratio: number | null;
  nodes: NodeFigures[];
  /** Busy CPU seconds of the whole machine during each method's step. */
  machineCpu: { chunkswarm: number | null; rsync: number | null };
  /** Bytes received by every node in the step: chunkswarm's piece bytes, rsync's --stats "Total bytes received". */
  bytesReceived: { chunkswarm: number; rsync: number };
  /** Disk the largest copy of the tree takes after the step (du: allocated blocks), MB: a live release, an rsync destination. */
  diskMB: { chunkswarm: number | null; rsync: number | null };
}

/** Allocated size of a tree (du -sk), MB; a sparse file counts its data, not its length. */
function diskUse(dir: string): number | null {
  try {
    return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024;
  } catch {
    return null;
  }
}

const largest = (xs: Array<number | null>) => (xs.some((x) => x === null) ? null : Math.max(...(xs as number[])));

async function liveVersion(n: NodeHandle): Promise<number | null> {
  const target = await readlink(n.live).catch(() => null);
  return target === null ? null : Number(basename(target));
}

/** Peak resident set of a process (VmHWM), MB; null once it is gone. */
function peakRss(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const last = (times: Array<number | null>) => (times.some((t) => t === null) ? null : Math.max(...(times as number[])));

// Every copy of the tree: the source, each node's release, the joiner's, each rsync destination.
const scratch = values['in-tmp'] ? null : { ...DEFAULT_SCRATCH, inodes: Math.max(DEFAULT_SCRATCH.inodes, FILES * (2 * N + 4) + 100_000) };
runBench('seed', { keep: values.keep, scratch }, async (work) => {
  const tool = ensureTool('rsync');
  if (!tool.ok) throw new Error(`bench:seed compares with rsync: ${tool.reason}`);
  const src = join(work, 'src');
  const gen = generateSeedTree(src, FILES, SHAPE);
  console.log(`tree (${SHAPE}): ${gen.files} files, ${(gen.bytes / MB).toFixed(0)} MB; ${N} followers`);
  await new Promise((r) => setTimeout(r, 1100)); // outside the publisher's racy stat-cache window

  const cluster = await LocalCluster.create({
    dir: join(work, 'cluster'), followers: N,
    nodeArgs: [...(values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : []), ...(values['node-arg'] ?? [])],
  });
  const daemon = await RsyncDaemon.start(work, { src });
  const dests = Array.from({ length: N }, (_, i) => join(work, 'rsync', `frontend${i + 1}`));
  for (const d of [...dests, join(work, 'rsync', 'joiner')]) await mkdir(d, { recursive: true });
  const steps: StepResult[] = [];
  let restart: Record<string, number | null> = {};
  try {
    for (const n of cluster.nodes) cluster.start(n);
    await cluster.waitFor('every node to report its status', async () => (await Promise.all(cluster.nodes.map((n) => cluster.status(n)))).every((s) => s !== null), 60_000);
    const sampler = new CpuSampler([]);
    let version = 0;

    const step = async (scenario: Scenario, nodes: NodeHandle[], rsyncDests: string[], before?: () => void): Promise<void> => {
      settleWriteback();
      const t0 = Date.now();
      const done = new Completions(nodes.length);
      done.start();
      before?.();
      sampler.track(cluster.nodes.map((n) => n.proc?.pid).filter((p): p is number => p !== undefined));
      const received = async () => (await Promise.all(cluster.nodes.map((n) => cluster.piecesReceived(n)))).reduce((a, b) => a + b, 0);
      const receivedBefore = await received();
      let publishSeconds: number | null = null;
      if (scenario !== 'join') {
        const pub = await cluster.publish(src);
        if (pub.version === null) throw new Error(`${scenario}: nothing was published`);
        version = pub.version;
        publishSeconds = pub.seconds;
      }
      await done.poll(async (i) => (await liveVersion(nodes[i]!)) === version, TIMEOUT_MS);
      const t1 = Date.now();
      const receivedAfter = await received();
      const figures: NodeFigures[] = cluster.nodes.map((n) => ({
        name: n.name,
        cpuSeconds: n.proc?.pid !== undefined ? sampler.cpuSeconds(n.proc.pid, t0, t1) : null,
        peakRssMB: peakRss(n.proc?.pid),
      }));
      // rsync: every frontend pulls the source at once (the daemon serves it as it is now).
      settleWriteback();
      const r0 = Date.now();
      const rsyncDone = new Completions(rsyncDests.length);
      rsyncDone.start();
      const pulls = await Promise.all(rsyncDests.map(async (d, i) => {
        const p = await daemon.pull('src', d);
        if (p.ok) rsyncDone.mark(i);
        return p;
      }));
      const r1 = Date.now();
      const failed = pulls.find((p) => !p.ok);
      if (failed) console.log(`rsync ${scenario}: ${failed.stderr}`);
      const cs = done.times;
      const rs = rsyncDone.times;
      const csLast = last(cs);
      const rsLast = last(rs);
      const result: StepResult = {
        scenario, chunkswarm: cs, publishSeconds, rsync: rs, ratio: csLast !== null && rsLast ? csLast / rsLast : null, nodes: figures,
        machineCpu: { chunkswarm: sampler.cpuSeconds(MACHINE, t0, t1), rsync: sampler.cpuSeconds(MACHINE, r0, r1) },
        bytesReceived: { chunkswarm: receivedAfter - receivedBefore, rsync: pulls.reduce((n, p) => n + p.received, 0) },
        diskMB: { chunkswarm: largest(nodes.map((n) => diskUse(`${n.live}/`))), rsync: largest(rsyncDests.map((d) => diskUse(d))) },
      };
      steps.push(result);
      console.log(
        `${scenario}: chunkswarm last node live after ${csLast?.toFixed(2) ?? 'timeout'} s (publish ${publishSeconds?.toFixed(2) ?? '-'} s), ` +
          `rsync ${rsLast?.toFixed(2) ?? 'failed'} s, ratio ${result.ratio?.toFixed(2) ?? '-'}; ` +
          `received ${(result.bytesReceived.chunkswarm / MB).toFixed(2)} MB (rsync ${(result.bytesReceived.rsync / MB).toFixed(2)} MB); ` +
          `disk per node ${result.diskMB.chunkswarm?.toFixed(0) ?? '-'} MB (rsync ${result.diskMB.rsync?.toFixed(0) ?? '-'} MB); ` +
          `peak RSS ${figures.map((f) => `${f.name} ${f.peakRssMB?.toFixed(0) ?? '-'} MB`).join(', ')}`,
      );
    };

    await step('cold', cluster.followers, dests);
    // Three updates: with releases.keep = 3 the fourth release is staged in the tree of the first
    // (recycleRelease), as every update is once a node has run for a while.
    let paths = gen.paths;
    for (const [i, scenario] of (['update', 'update 3', 'update 4 (steady)'] as const).entries()) {
      const edits = await editTree(src, paths, { edit: 10, append: 0, add: 1, remove: 1, seed: 3 + i });
      paths = edits.paths;
      console.log(`${scenario}: ${edits.edited.length} edited, ${edits.added.length} added, ${edits.removed.length} removed`);
      await new Promise((r) => setTimeout(r, 1100));
      await step(scenario, cluster.followers, dests);
    }
    const joiner = await cluster.addFollower('joiner');
    await step('join', [joiner], [join(work, 'rsync', 'joiner')], () => cluster.start(joiner));
    sampler.stop();
    restart = await timeRestart(cluster);
    console.log(`restart: every node serving again after ${Object.entries(restart).map(([n, t]) => `${n} ${t?.toFixed(2) ?? 'timeout'} s`).join(', ')}`);
  } finally {
    await daemon.close();
    await cluster.close();
  }
  const result = { shape: SHAPE, files: gen.files, bytes: gen.bytes, followers: N, nodeArgs: values['node-arg'] ?? [], steps, restart };
  await writeMarkdown(result);
  return result;
});

/**
 * Every node stopped (SIGTERM) and started again at once, as after a reboot of the cluster: the
 * seconds until each serves its release again (null: not within the scenario timeout).
 */
async function timeRestart(cluster: LocalCluster): Promise<Record<string, number | null>> {
  await Promise.all(cluster.nodes.map((n) => cluster.stop(n)));
  const done = new Completions(cluster.nodes.length);
  done.start();
  for (const n of cluster.nodes) cluster.start(n);
  await done.poll((i) => cluster.serving(cluster.nodes[i]!), TIMEOUT_MS);
  return Object.fromEntries(cluster.nodes.map((n, i) => [n.name, done.times[i] ?? null]));
}

async function writeMarkdown(r: { shape: SeedShape; files: number; bytes: number; followers: number; steps: StepResult[]; restart: Record<string, number | null> }): Promise<void> {
  const { repoRoot } = await import('./lib/results.js');
  const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined ? '–' : x.toFixed(d));
  const lines = [
    `# bench:seed — ${r.files} files (${r.shape}), ${(r.bytes / MB).toFixed(0)} MB, 1 publisher + ${r.followers} followers (${new Date().toISOString()})`,
    '',
    '| scenario | chunkswarm, last node live (s) | publish (s) | rsync, last pull (s) | ratio | machine CPU s (chunkswarm / rsync) | MB received by all nodes (chunkswarm pieces / rsync) | disk per node, MB (chunkswarm / rsync) |',
    '|---|--:|--:|--:|--:|---|---|---|',
    ...r.steps.map((s) => `| ${s.scenario} | ${f(last(s.chunkswarm))} | ${f(s.publishSeconds)} | ${f(last(s.rsync))} | ${f(s.ratio)} | ${f(s.machineCpu.chunkswarm, 1)} / ${f(s.machineCpu.rsync, 1)} | ${f(s.bytesReceived.chunkswarm / MB)} / ${f(s.bytesReceived.rsync / MB)} | ${f(s.diskMB.chunkswarm, 0)} / ${f(s.diskMB.rsync, 0)} |`),
    '',
    '| node | ' + r.steps.map((s) => `${s.scenario}: CPU s / peak RSS MB`).join(' | ') + ' |',
    '|---|' + r.steps.map(() => '--:|').join(''),
    ...[...new Set(r.steps.flatMap((s) => s.nodes.map((n) => n.name)))].map(
      (name) => `| ${name} | ` + r.steps.map((s) => {
        const n = s.nodes.find((x) => x.name === name);
        return `${f(n?.cpuSeconds, 1)} / ${f(n?.peakRssMB, 0)}`;
      }).join(' | ') + ' |',
    ),
    '',
    `Every node stopped and started again at once; seconds until each served its release again: ${Object.entries(r.restart).map(([n, t]) => `${n} ${f(t)}`).join(', ')}.`,
    '',
  ];
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = join(repoRoot, 'bench', 'results', `seed-${stamp}.md`);
  await writeFile(path, lines.join('\n'));
  console.log(`wrote ${path}\n${lines.join('\n')}`);
}
