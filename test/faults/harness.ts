/** Shared steps of the fault tests: small clusters of real processes, tree comparison, rogues. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LocalCluster, type NodeHandle } from '../../bench/lib/cluster.js';
import { repoRoot } from '../../bench/lib/results.js';

/** path -> [sha256, size] of every regular file under `root`. */
export async function treeDigest(root: string): Promise<Map<string, [string, number]>> {
  const out = new Map<string, [string, number]>();
  const walk = async (rel: string) => {
    for (const d of await readdir(join(root, rel), { withFileTypes: true }).catch(() => [])) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(p);
      else if (d.isFile()) {
        const bytes = await readFile(join(root, p));
        out.set(p, [createHash('sha256').update(bytes).digest('hex'), bytes.length]);
      }
    }
  };
  await walk('');
  return out;
}

/** Bytes of the source tree that `live` lacks or holds different (0: identical content). */
export async function bytesLost(source: string, live: string): Promise<number> {
  const [want, got] = await Promise.all([treeDigest(source), treeDigest(live)]);
  let lost = 0;
  for (const [path, [hash, size]] of want) if (got.get(path)?.[0] !== hash) lost += size;
  for (const [path, [, size]] of got) if (!want.has(path)) lost += size;
  return lost;
}

export async function sumBytesLost(source: string, nodes: NodeHandle[]): Promise<number> {
  let lost = 0;
  for (const n of nodes) lost += await bytesLost(source, n.live);
  return lost;
}

export async function editConfig(n: NodeHandle, patch: (c: Record<string, any>) => void): Promise<void> {
  const c = JSON.parse(await readFile(n.config, 'utf8')) as Record<string, any>;
  patch(c);
  await writeFile(n.config, JSON.stringify(c, null, 2));
}

/** Bans among honest nodes: the defences against bad members must not hit them (status banned[]). */
export async function honestBans(cluster: LocalCluster): Promise<string[]> {
  const out: string[] = [];
  for (const n of cluster.nodes) for (const b of (await cluster.status(n))?.banned ?? []) out.push(`${n.name}: ${b.key.slice(0, 12)} ${b.reason}`);
  return out;
}

/** Starts the publisher and waits until it seeds. */
export async function startPublisher(cluster: LocalCluster): Promise<void> {
  cluster.start(cluster.publisher);
  await cluster.waitFor('the publisher to seed', async () => (await cluster.status(cluster.publisher))?.phase === 'seeding');
}

/** Mean fraction of the release's bytes the followers hold, from their own reports. */
export async function meanProgress(cluster: LocalCluster, nodes: NodeHandle[], version: number): Promise<number> {
  let sum = 0;
  for (const n of nodes) {
    const s = await cluster.status(n);
    if (s?.live === version) sum += 1;
    else if (s?.progress?.version === version && s.progress.bytesTotal > 0) sum += s.progress.bytesHave / s.progress.bytesTotal;
  }
  return sum / nodes.length;
}

export interface Rogue {
  proc: ChildProcess;
  /** Resolves with the rogue's swarm key once it joined. */
  key: Promise<string>;
  events: Array<Record<string, unknown>>;
  kill(): void;
}

/** A malicious member (test/support/rogue-peer.ts) in a child process. */
export function startRogue(config: string, mode: string, seconds: number): Rogue {
  const proc = spawn(process.execPath, [join(repoRoot, 'dist', 'test', 'support', 'rogue-peer.js'), config, mode, String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Array<Record<string, unknown>> = [];
  const key = new Promise<string>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`rogue ${mode} exited with ${code} before it was ready`)));
    void (async () => {
      for await (const line of createInterface({ input: proc.stdout! })) {
        const e = JSON.parse(line) as Record<string, unknown>;
        events.push(e);
        if (e.event === 'ready') resolve(e.key as string);
      }
    })();
  });
  key.catch(() => undefined);
  return { proc, key, events, kill: () => proc.exitCode === null && proc.kill('SIGKILL') };
}

/** Seconds since `t0` (performance.now()). */
export const since = (t0: number) => (performance.now() - t0) / 1000;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
