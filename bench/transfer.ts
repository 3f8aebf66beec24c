/**
 * bench/transfer: one publisher to one follower on loopback (real `serve` processes, no rate
 * limits), over the direct TCP path and over the hyperswarm fallback, next to the raw streams of
 * both transports measured in the same run between two processes: bare secret-stream over TCP,
 * bare hyperswarm, and our Swarm stream (authentication + credit flow control over hyperswarm),
 * and the floor of the TCP path: secret-stream whose sender reads and hashes the bytes from files
 * and whose receiver hashes and writes them into new ones.
 * Targets: pieces over TCP >= 0.8 of raw secret-stream over TCP, <= 4 ms of CPU per MB per side.
 *   npm run bench:transfer [-- --mb 256 --files 200 --paths tcp,hyperswarm --profile <dir>]
 * --profile: the serve processes run with --cpu-prof, profiles written to <dir>/<path> when they stop.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LocalCluster, type NodeHandle } from './lib/cluster.js';
import { generateTree } from './lib/gen-tree.js';
import { CpuSampler, MACHINE } from './lib/proc-cpu.js';
import { rawTransfer, type RawTransferResult } from './lib/raw-transfer.js';
import { benchArgs } from './lib/args.js';
import { runBench } from './lib/results.js';

const values = benchArgs(
  `npm run bench:transfer [-- options]
  --mb MB          bytes in the release (default 256)
  --files N        files they are spread over (default 200)
  --paths LIST     tcp,hyperswarm: the paths the pieces phase runs over (default both)
  --profile DIR    the serve processes run with --cpu-prof, profiles into DIR/<path>
  --keep           keep the work directory`,
  {
    mb: { type: 'string', default: '256' },
    files: { type: 'string', default: '200' },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
    paths: { type: 'string', default: 'tcp,hyperswarm' },
  },
);
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

type Path = 'tcp' | 'hyperswarm';

async function chunkswarmTransfer(work: string, src: string, gen: { bytes: number; files: number }, path: Path) {
  const profDir = values.profile ? resolve(values.profile, path) : null;
  if (profDir) await mkdir(profDir, { recursive: true });
  const cluster = await LocalCluster.create({
    dir: join(work, `cluster-${path}`), followers: 1, extra: { verify: { intervalSec: 0 } },
    // No listener on either node: their traffic stays on the hyperswarm connection.
    network: { port: path === 'tcp' ? 0 : null },
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
    // Sampled every 10 ms: the pieces phase lasts about a second, and the nearest samples to its
    // two log lines bound the CPU counted (every 100 ms made the figure move by ±20 %).
    const sampler = (cpu = new CpuSampler([pubPid, folPid], 10));
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
    const used = status.peers.find((p) => p.connected)?.path;
    if (used !== path) throw new Error(`the transfer took the ${used} path, not ${path}`);
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

function piecesLines(cs: Awaited<ReturnType<typeof chunkswarmTransfer>>, path: Path): string {
  const c = cs.piecesCpu;
  return `chunkswarm over ${path === 'tcp' ? 'the direct TCP path' : 'the hyperswarm fallback'}, publisher -> 1 follower (serve processes): ` +
    `${(cs.treeBytes / MB).toFixed(0)} MB in ${cs.files} files, ${cs.pieces} pieces\n` +
    `  publish ${cs.publishSeconds.toFixed(1)} s; publish done -> live ${cs.publishedToLiveSeconds.toFixed(1)} s; ` +
    `head seen -> live ${cs.seenToLiveSeconds.toFixed(1)} s (${cs.seenToLiveMBps.toFixed(1)} MB/s)\n` +
    `  objects ${cs.objectsSeconds.toFixed(2)} s, pieces ${cs.piecesSeconds.toFixed(2)} s (${cs.piecesMBps.toFixed(1)} MB/s), ` +
    `verify+rename ${cs.completeSeconds.toFixed(2)} s, activate ${cs.activateSeconds.toFixed(2)} s\n` +
    `  pieces phase CPU ms/MB publisher ${fmt(msPerMB(c.publisher, cs.pieceBytes), 2)}, follower ${fmt(msPerMB(c.follower, cs.pieceBytes), 2)}; ` +
    `machine busy ${fmt(c.machine === null ? null : c.machine / cs.piecesSeconds)} cores`;
}

/** CPU per MB of both ends of a raw stream over that of both ends of a pieces phase. */
function costRatio(raw: RawTransferResult, cs: Awaited<ReturnType<typeof chunkswarmTransfer>>): number | null {
  const c = cs.piecesCpu;
  if (raw.cpu.sender === null || raw.cpu.receiver === null || c.publisher === null || c.follower === null) return null;
  return (raw.cpu.sender + raw.cpu.receiver) / (raw.bytes / MB) / ((c.publisher + c.follower) / (cs.pieceBytes / MB));
}

runBench('transfer', values.keep, async (work) => {
  const tcp = await rawTransfer('tcp', bytes);
  console.log(rawLine('bare secret-stream over TCP, 2 processes', tcp));
  const floor = await rawTransfer('tcp-files', bytes, { dir: join(work, 'floor'), files });
  console.log(rawLine(`floor: the same, the sender reading ${files} files and the receiver writing ${files} new ones, each hashing every MiB once`, floor));
  const bare = await rawTransfer('hyperswarm', bytes);
  console.log(rawLine('bare hyperswarm stream, 2 processes', bare));
  const ours = await rawTransfer('swarm', bytes);
  console.log(rawLine('Swarm stream over hyperswarm (auth + credit flow control), 2 processes', ours));
  const tcpMBps = mbps(tcp.bytes, tcp.seconds);
  const oursMBps = mbps(ours.bytes, ours.seconds);

  const src = join(work, 'source');
  const gen = await generateTree(src, { bytes, files, perDir: 50, seed: 11 });
  const paths = values.paths.split(',').filter((p): p is Path => p === 'tcp' || p === 'hyperswarm');
  const raws: Record<Path, [RawTransferResult, number, string]> = { tcp: [tcp, tcpMBps, 'raw secret-stream over TCP'], hyperswarm: [ours, oursMBps, 'Swarm stream'] };
  const results: Record<string, unknown> = {};
  for (const path of paths) {
    const cs = await chunkswarmTransfer(work, src, gen, path);
    console.log(piecesLines(cs, path));
    const [raw, rawMBps, rawName] = raws[path];
    // Both ends share this machine's cores, so when it is CPU-bound the MB/s ratio tends to the
    // ratio of CPU spent per MB, which other load on the machine hardly changes.
    const ratio = cs.piecesMBps / rawMBps;
    const cost = costRatio(raw, cs);
    console.log(`pieces over ${path} / ${rawName}: ${ratio.toFixed(2)} in MB/s${path === 'tcp' ? ' (target >= 0.8)' : ''}, ${fmt(cost, 2)} in CPU per MB`);
    let toFloor: { ratio: number; cpuCostRatio: number | null } | null = null;
    if (path === 'tcp') {
      toFloor = { ratio: cs.piecesMBps / mbps(floor.bytes, floor.seconds), cpuCostRatio: costRatio(floor, cs) };
      console.log(`pieces over tcp / the floor: ${toFloor.ratio.toFixed(2)} in MB/s, ${fmt(toFloor.cpuCostRatio, 2)} in CPU per MB`);
    }
    results[path] = { ...cs, ratioToRaw: ratio, cpuCostRatioToRaw: cost, toFloor };
  }
  return {
    bytes,
    secretStreamTcp: { ...tcp, MBps: tcpMBps },
    floor: { ...floor, MBps: mbps(floor.bytes, floor.seconds), files },
    bareHyperswarm: { ...bare, MBps: mbps(bare.bytes, bare.seconds) },
    swarmStream: { ...ours, MBps: oursMBps },
    chunkswarm: results,
    profileDir: values.profile ? resolve(values.profile) : null,
  };
});
