/**
 * bench/flood (fault 6): one cluster member requests every piece of every peer as fast as its
 * connections take the requests, choked or not (test/support/rogue-peer.ts, mode "flood"). The
 * figure is the honest followers' rollout time with the flood against without it (the issue asks
 * for at most 1.5x), and what each node uploaded to the flooder against its per-peer limit. The
 * flooder starts with the flooded rollout. Rounds alternate, each publishing a fresh tree of the
 * same size.
 *   npm run bench:flood [-- --followers 4 --mb 8 --rounds 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { benchArgs } from './lib/args.js';
import { LocalCluster } from './lib/cluster.js';
import { generateTree } from './lib/gen-tree.js';
import { repoRoot, writeResult } from './lib/results.js';

const values = benchArgs(
  `npm run bench:flood [-- options]
  --followers N    honest followers beside the publisher (default 4)
  --mb MB          size of each round's tree, MiB (default 8)
  --rounds K       rounds with and without the flood, alternating (default 3)
  --upload B       limits.uploadBytesPerSec of every node (default 2097152)
  --per-peer B     limits.perPeerUploadBytesPerSec of every node (default 1048576)`,
  {
    followers: { type: 'string', default: '4' },
    mb: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    upload: { type: 'string', default: String(2 * 1024 * 1024) },
    'per-peer': { type: 'string', default: String(1024 * 1024) },
  },
);
const limits = {
  uploadBytesPerSec: Number(values.upload),
  perPeerUploadBytesPerSec: Number(values['per-peer']),
};
const treeBytes = Math.round(Number(values.mb) * 1024 * 1024);

interface Flooder {
  proc: ChildProcess;
  key: string;
  stats: Record<string, number>;
}

/** The flooding member, given the publisher's config (it reads piece sizes from its store). */
async function startFlooder(config: string): Promise<Flooder> {
  const proc = spawn(process.execPath, [join(repoRoot, 'dist', 'test', 'support', 'rogue-peer.js'), config, 'flood', '3600'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const f = { proc, key: '', stats: {} as Record<string, number> };
  await new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`the flooder exited with ${code}`)));
    void (async () => {
      for await (const line of createInterface({ input: proc.stdout! })) {
        const e = JSON.parse(line) as Record<string, unknown>;
        if (e.event === 'ready') {
          f.key = e.key as string;
          resolve();
        }
        if (e.event === 'stats') f.stats = e as Record<string, number>;
      }
    })();
  });
  return f;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cs-bench-flood-'));
  const cluster = await LocalCluster.create({ dir, followers: Number(values.followers), limits, extra: { verify: { intervalSec: 0 } } });
  let flooder: Flooder | null = null;
  // Interrupted, the cluster's processes must not outlive the bench.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      flooder?.proc.kill();
      void cluster.close().then(() => rm(dir, { recursive: true, force: true })).finally(() => process.exit(1));
    });
  }
  try {
    for (const n of cluster.nodes) cluster.start(n);
    let seed = 60;
    const rollout = async (): Promise<number> => {
      const source = join(dir, `source-${seed}`);
      await generateTree(source, { bytes: treeBytes, files: 40, perDir: 10, seed: seed++ });
      const t0 = performance.now();
      const { version } = await cluster.publish(source);
      await cluster.waitLive(cluster.followers, version!, 600_000);
      await rm(source, { recursive: true, force: true });
      return (performance.now() - t0) / 1000;
    };
    console.log(`warm-up rollout: ${(await rollout()).toFixed(1)} s`);
    const quiet: number[] = [];
    const flooded: number[] = [];
    const toFlooder: Array<{ node: string; bytesPerSec: number }> = [];
    const bans: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      quiet.push(await rollout());
      // The flood starts with the rollout: a flooder that joined earlier would be banned before it.
      const t0 = performance.now();
      const started = startFlooder(cluster.publisher.config);
      flooded.push(await rollout());
      const seconds = (performance.now() - t0) / 1000;
      flooder = await started;
      for (const [node, up] of await upTo(cluster, flooder.key)) toFlooder.push({ node, bytesPerSec: up / seconds });
      const banned = await bannedBy(cluster, flooder.key);
      await new Promise((res) => setTimeout(res, 2100)); // one more stats line from the flooder
      console.log(
        `round ${r + 1}: ${quiet[r]!.toFixed(1)} s quiet, ${flooded[r]!.toFixed(1)} s flooded; the flooder sent ${flooder.stats.floodRequests} ` +
          `requests, got ${flooder.stats.floodBytesReceived} bytes, and was banned by ${banned.length} of ${cluster.nodes.length} nodes` +
          (banned[0] ? ` (${banned[0]})` : ''),
      );
      bans.push(banned.length);
      flooder.proc.kill();
      flooder = null;
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(flooded) / median(quiet);
    const worstRate = Math.max(...toFlooder.map((t) => t.bytesPerSec));
    console.log(`rollout with a flooding member: ${ratio.toFixed(2)}x the time without (limit 1.5x)`);
    console.log(`fastest upload to the flooder: ${(worstRate / 1024).toFixed(0)} KiB/s (per-peer limit ${(limits.perPeerUploadBytesPerSec / 1024).toFixed(0)} KiB/s)`);
    const path = await writeResult('flood', {
      followers: Number(values.followers), treeBytes, limits, quietSeconds: quiet, floodedSeconds: flooded, ratio,
      uploadToFlooder: toFlooder, perPeerLimitHeld: worstRate <= limits.perPeerUploadBytesPerSec * 1.1, nodesThatBannedTheFlooder: bans,
    });
    console.log(`results: ${path}`);
  } finally {
    flooder?.proc.kill();
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The ban reasons nodes give for `key`. */
async function bannedBy(cluster: LocalCluster, key: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of cluster.nodes) {
    const reason = (await cluster.status(n))?.banned.find((b) => b.key === key)?.reason;
    if (reason) out.push(reason);
  }
  return out;
}

/** Bytes each node has uploaded to `key`, by node name. */
async function upTo(cluster: LocalCluster, key: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const n of cluster.nodes) out.set(n.name, (await cluster.status(n))?.peers.find((p) => p.key === key)?.up ?? 0);
  return out;
}

await main();
