/**
 * bench/transfer: one publisher to one follower on loopback (real `serve` processes, no rate
 * limits), next to the raw stream throughput of the same transport measured in the same run: our
 * Swarm layer (authentication + credit flow control) and bare hyperswarm, each between two
 * processes. The target is chunkswarm's pieces phase at >= 0.8 of the Swarm stream.
 *   npm run bench:transfer [-- --mb 256 --files 200 --profile <dir>]
 * --profile: the serve processes run with --cpu-prof, profiles written to <dir> when they stop.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster, type NodeHandle } from './lib/cluster.js';
import { generateTree } from './lib/gen-tree.js';
import { CpuSampler, MACHINE } from './lib/proc-cpu.js';
import { rawTransfer, type RawTransferResult } from './lib/raw-transfer.js';
import { runBench } from './lib/results.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '256' },
    files: { type: 'string', default: '200' },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const bytes = Math.round(Number(values.mb) * 1e6);
const files = Number(values.files);
const MB = 1e6;
const mbps = (b: number, s: number) => b / MB / s;
/** CPU milliseconds per MB moved: unlike MB/s, hardly changed by other load on a shared machine. */
const msPerMB = (cpu: number | null, b: number) => (cpu === null ? null : (1000 * cpu) / (b / MB));
const fmt = (x: number | null, digits = 1) => (x === null ? '?' : x.toFixed(digits));

/** The serve log's timestamped lines (see src/cli/commands/serve.ts), first match of each pattern. */
async function logTimes(cluster: LocalCluster, n: NodeHandle, patterns: Record<string, RegExp>): Promise<Record<string, { at: number; m: RegExpMatchArray }>> {
  const out: Record<string, { at: number; m: RegExpMatchArray }> = {};
  for (const line of (await cluster.log(n)).split('\n')) {
    const sp = line.indexOf(' ');
    const at = Date.parse(line.slice(0, sp));
    if (Number.isNaN(at)) continue;
    for (const [k, re] of Object.entries(patterns)) {
      const m = line.slice(sp + 1).match(re);
      if (m && !out[k]) out[k] = { at, m };
    }
  }
  const missing = Object.keys(patterns).filter((k) => !out[k]);
  if (missing.length > 0) throw new Error(`${n.name}'s log lacks the lines for ${missing.join(', ')}`);
  return out;
}

async function chunkswarmTransfer(work: string) {
  const src = join(work, 'source');
  const gen = await generateTree(src, { bytes, files, perDir: 50, seed: 11 });
  const profDir = values.profile ? resolve(values.profile) : null;
  if (profDir) await mkdir(profDir, { recursive: true });
  const cluster = await LocalCluster.create({
    dir: join(work, 'cluster'), followers: 1, extra: { verify: { intervalSec: 0 } },
    ...(profDir && { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] }),
  });
  const [pub, fol] = [cluster.publisher, cluster.followers[0]!];
  let cpu: CpuSampler | null = null;
  try {
    cluster.start(pub);
    cluster.start(fol);
    const [pubPid, folPid] = [pub.proc!.pid!, fol.proc!.pid!];
    // Profiles are named CPU.<date>.<time>.<pid>...: say whose is whose.
    if (profDir) console.log(`profiles in ${profDir}: publisher pid ${pubPid}, follower pid ${folPid}`);
    const sampler = (cpu = new CpuSampler([pubPid, folPid]));
    // Both nodes connected before the release exists: the figure is the transfer, not discovery.
    await cluster.waitFor('the follower to connect', async () => !!(await cluster.status(fol))?.peers.some((p) => p.connected));
    const summary = await cluster.publish(src);
    const published = Date.now();
    await cluster.waitLive([fol], 1, 600_000);
    const t = await logTimes(cluster, fol, {
      seen: /^release 1 announced/,
      fetching: /^release 1: fetching (\d+) of (\d+) pieces \((\d+) bytes\)/,
      received: /^release 1: all pieces received/,
      staged: /^release 1 staged/,
      live: /^release 1 is live/,
    });
    const pieceBytes = Number(t.fetching!.m[3]);
    const s = (a: string, b: string) => (t[b]!.at - t[a]!.at) / 1000;
    const status = (await cluster.status(fol))!;
    const during = (pid: number) => sampler.cpuSeconds(pid, t.fetching!.at, t.received!.at);
    return {
      treeBytes: gen.bytes,
      files: gen.files,
      pieces: Number(t.fetching!.m[2]),
      pieceBytes,
      publishSeconds: summary.seconds,
      publishedToLiveSeconds: (t.live!.at - published) / 1000,
      seenToLiveSeconds: s('seen', 'live'),
      objectsSeconds: s('seen', 'fetching'),
      piecesSeconds: s('fetching', 'received'),
      completeSeconds: s('received', 'staged'),
      activateSeconds: s('staged', 'live'),
      piecesMBps: mbps(pieceBytes, s('fetching', 'received')),
      seenToLiveMBps: mbps(gen.bytes, s('seen', 'live')),
      followerBytesDown: status.bytesDown,
      /** CPU seconds during the pieces phase. */
      piecesCpu: { publisher: during(pubPid), follower: during(folPid), machine: during(MACHINE) },
    };
  } finally {
    cpu?.stop();
    await cluster.close();
  }
}

function rawLine(what: string, r: RawTransferResult): string {
  return `${what}: ${mbps(r.bytes, r.seconds).toFixed(1)} MB/s (${(r.bytes / MB).toFixed(0)} MB in ${r.seconds.toFixed(2)} s); ` +
    `CPU ms/MB sender ${fmt(msPerMB(r.cpu.sender, r.bytes), 2)}, receiver ${fmt(msPerMB(r.cpu.receiver, r.bytes), 2)}; ` +
    `machine busy ${fmt(r.cpu.machine === null ? null : r.cpu.machine / r.seconds)} cores`;
}

runBench('transfer', values.keep, async (work) => {
  const tcp = await rawTransfer('tcp', bytes);
  console.log(rawLine('bare secret-stream over TCP, 2 processes', tcp));
  const bare = await rawTransfer('hyperswarm', bytes);
  console.log(rawLine('bare hyperswarm stream, 2 processes', bare));
  const ours = await rawTransfer('swarm', bytes);
  console.log(rawLine('Swarm stream (auth + credit flow control), 2 processes', ours));
  const oursMBps = mbps(ours.bytes, ours.seconds);
  const bareMBps = mbps(bare.bytes, bare.seconds);

  const cs = await chunkswarmTransfer(work);
  const c = cs.piecesCpu;
  console.log(
    `chunkswarm, publisher -> 1 follower (serve processes): ${(cs.treeBytes / MB).toFixed(0)} MB in ${cs.files} files, ${cs.pieces} pieces\n` +
      `  publish ${cs.publishSeconds.toFixed(1)} s; publish done -> live ${cs.publishedToLiveSeconds.toFixed(1)} s; ` +
      `head seen -> live ${cs.seenToLiveSeconds.toFixed(1)} s (${cs.seenToLiveMBps.toFixed(1)} MB/s)\n` +
      `  objects ${cs.objectsSeconds.toFixed(2)} s, pieces ${cs.piecesSeconds.toFixed(2)} s (${cs.piecesMBps.toFixed(1)} MB/s), ` +
      `verify+rename ${cs.completeSeconds.toFixed(2)} s, activate ${cs.activateSeconds.toFixed(2)} s\n` +
      `  pieces phase CPU ms/MB publisher ${fmt(msPerMB(c.publisher, cs.pieceBytes), 2)}, follower ${fmt(msPerMB(c.follower, cs.pieceBytes), 2)}; ` +
      `machine busy ${fmt(c.machine === null ? null : c.machine / cs.piecesSeconds)} cores`,
  );
  const ratio = cs.piecesMBps / oursMBps;
  console.log(`ratio pieces phase / Swarm stream: ${ratio.toFixed(2)} (target >= 0.8); / bare hyperswarm: ${(cs.piecesMBps / bareMBps).toFixed(2)}`);
  // Both ends share this machine's cores, so when it is CPU-bound the MB/s ratio tends to the
  // ratio of CPU spent per MB, which other load on the machine hardly changes.
  const costRatio = ours.cpu.sender !== null && ours.cpu.receiver !== null && c.publisher !== null && c.follower !== null
    ? (ours.cpu.sender + ours.cpu.receiver) / (ours.bytes / MB) / ((c.publisher + c.follower) / (cs.pieceBytes / MB))
    : null;
  console.log(`CPU per MB, Swarm stream (both ends) / chunkswarm pieces phase (both ends): ${fmt(costRatio, 2)}`);
  return {
    bytes,
    secretStreamTcp: { ...tcp, MBps: mbps(tcp.bytes, tcp.seconds) },
    bareHyperswarm: { ...bare, MBps: bareMBps },
    swarmStream: { ...ours, MBps: oursMBps },
    chunkswarm: cs,
    ratioPiecesToSwarmStream: ratio,
    cpuCostRatio: costRatio,
    profileDir: values.profile ? resolve(values.profile) : null,
  };
});
