/**
 * The demo: a publisher and N followers on this machine (real `chunkswarm serve` processes on
 * 127.0.0.1, links emulated by per-node rate limits), three releases: a full rollout, a small
 * update, and a hand edit on a follower that is detected and preserved.
 *   npm run demo [-- --followers 8 --mb 100 --files 300 --rate 20000000 --keep]
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs } from './lib/args.js';
import { scenarioBound } from './bandwidth/bound.js';
import { LocalCluster } from './lib/cluster.js';
import { removeTree } from '../src/store/index.js';
import type { PublishSummary } from '../src/index.js';
import { conclude, headline, MB, mb, note, quote, secs, size, table, times } from './demo/format.js';
import { chunkswarm, editByHand, lastLine, newestDrift, preservedCopy, waitDetected } from './demo/hand-edit.js';
import { stopActiveView } from './demo/progress.js';
import { watchRollout } from './demo/rollout.js';
import { changeScript, changeSome, CONFIG_FILE, makeSource, type SampleTree } from './demo/source.js';
import { fromPeers, minus, plus, settle, snapshot, ZERO, type Counters } from './demo/traffic.js';

const USAGE = `usage: npm run demo [-- --followers N] [--mb MB] [--files F] [--rate BYTES_PER_SEC] [--keep]
  --followers  follower nodes besides the publisher (default 8)
  --mb         size of the sample tree in MB (default 100)
  --files      number of files in it (default 300)
  --rate       emulated link of every node, up and down, bytes/s (default 20000000)
  --keep       keep the temp dir (configs, data, serve.log of every node) and print where it is`;

const values = benchArgs(USAGE, {
  followers: { type: 'string', default: '8' },
  mb: { type: 'string', default: '100' },
  files: { type: 'string', default: '300' },
  rate: { type: 'string', default: String(20 * MB) },
  keep: { type: 'boolean', default: false },
});
function positive(name: 'followers' | 'mb' | 'files' | 'rate'): number {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number, not ${JSON.stringify(values[name])}\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}
const FOLLOWERS = Math.floor(positive('followers'));
const BYTES = Math.round(positive('mb') * MB);
const FILES = Math.max(4, Math.floor(positive('files')));
const RATE = Math.round(positive('rate'));
const TTY = process.stdout.isTTY === true;
/** How often followers check their live tree by themselves (default 300 s; short here to see it happen). */
const VERIFY_SEC = 2;
/** Generous: a link at RATE must carry the image, and two cores run every node. */
const ROLLOUT_TIMEOUT_MS = Math.max(120_000, (10 * BYTES * 1000) / RATE);

const work = await mkdtemp(join(tmpdir(), 'chunkswarm-demo-'));
let cluster: LocalCluster | null = null;
let cleaning: Promise<void> | null = null;
let interrupted = false;

/** Stops every node and removes the temp dir (unless --keep); safe to call twice. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await cluster?.close();
    if (values.keep) process.stdout.write(`\nkept ${work} (each node's dir has its config, data/ and serve.log)\n`);
    else await removeTree(work);
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    stopActiveView();
    process.stdout.write(`\n${signal}: stopping the nodes${values.keep ? '' : ` and removing ${work}`}\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

interface Rollout {
  summary: PublishSummary;
  /** Seconds after the publish until each follower ran the release live. */
  liveAfter: Map<string, number>;
  traffic: Map<string, Counters>;
}

async function release(c: LocalCluster, src: SampleTree, version: number): Promise<Rollout> {
  const before = await snapshot(c);
  const summary = await c.publish(src.root);
  if (summary.version !== version) throw new Error(`expected release ${version}, publish made ${summary.version}`);
  const t0 = performance.now();
  note(
    `published in ${secs(summary.seconds)}: ${summary.files} files, ${mb(summary.bytes)}; ${summary.hashedFiles} files hashed, ` +
      `${summary.reusedFiles} unchanged (stat cache); new data: ${size(summary.newBytes)} in ${summary.newChunks} chunks`,
  );
  note(`each follower learns of it from a peer, fetches what it lacks, verifies, switches live atomically:`);
  const liveAfter = await watchRollout({ cluster: c, version, t0, before, tty: TTY, timeoutMs: ROLLOUT_TIMEOUT_MS });
  await settle();
  const after = await snapshot(c);
  const traffic = new Map(c.nodes.map((n) => [n.name, minus(after.get(n.name)!, before.get(n.name)!)] as const));
  return { summary, liveAfter, traffic };
}

function totals(r: Rollout, c: LocalCluster): { pubUp: number; got: number; fromPeers: number; slowest: number } {
  const f = c.followers.map((n) => r.traffic.get(n.name)!);
  return {
    pubUp: r.traffic.get(c.publisher.name)!.up,
    got: f.reduce((s, x) => s + x.down, 0),
    fromPeers: f.reduce((s, x) => s + fromPeers(x), 0),
    slowest: Math.max(...r.liveAfter.values()),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  process.stdout.write(
    `chunkswarm demo: one master publishes a directory tree; ${FOLLOWERS} frontends keep an identical, read-only copy.\n` +
      `Every node is a real "chunkswarm serve" process on 127.0.0.1; everything lives under ${work};\n` +
      `Ctrl-C stops the nodes and removes it.\n`,
  );

  headline(`0. setting up: a sample web root and a cluster of 1 publisher + ${FOLLOWERS} followers`);
  const src = await makeSource(join(work, 'source'), { bytes: BYTES, files: FILES });
  note(`source tree ${src.root}: ${FILES + 2} files, ${mb(BYTES)} (mostly small files, a few large ones)`);
  const c = await LocalCluster.create({
    dir: work,
    followers: FOLLOWERS,
    limits: { uploadBytesPerSec: RATE, downloadBytesPerSec: RATE },
    extra: { verify: { intervalSec: VERIFY_SEC } },
  });
  cluster = c;
  for (const n of c.nodes) c.start(n);
  await c.waitFor('every node to connect to a peer', async () => {
    const all = await Promise.all(c.nodes.map((n) => c.status(n)));
    return all.every((s) => s !== null && s.peers.some((p) => p.connected));
  }, 60_000);
  note(`each node has its own swarm.config.json, data/ and live -> data/releases/<version>; its log is serve.log`);
  conclude(`${c.nodes.length} nodes up and connected; every link is limited to ${mb(RATE)}/s up and ${mb(RATE)}/s down`);

  headline(`1. publishing release 1 (${FILES + 2} files, ${mb(BYTES)}) to ${FOLLOWERS} followers that have nothing yet`);
  const r1 = await release(c, src, 1);
  const t1 = totals(r1, c);
  // The least time any method could take on these links (Kumar–Ross): the image out of the publisher's link once.
  const bound = scenarioBound('cold', FOLLOWERS, r1.summary.bytes, RATE);
  conclude(
    `all ${FOLLOWERS} followers live on release 1 within ${secs(t1.slowest)} ` +
      `(the Kumar–Ross bound for these links is ${secs(bound)}: ${times(t1.slowest / bound)} it); they received ${mb(t1.got)}, ` +
      `${((100 * t1.fromPeers) / Math.max(1, t1.got)).toFixed(0)}% of it from each other; the publisher sent ${mb(t1.pubUp)} = ` +
      `${times(t1.pubUp / r1.summary.bytes)} the image (a central server would send ${FOLLOWERS}×)`,
  );

  headline(`2. publishing release 2: a handful of files changed on the master`);
  for (const line of await changeSome(src)) note(`- ${line}`);
  const r2 = await release(c, src, 2);
  const got2 = c.followers.map((n) => r2.traffic.get(n.name)!.down);
  const [lo, hi] = [size(Math.min(...got2)), size(Math.max(...got2))];
  conclude(
    `each follower received ${lo === hi ? lo : `${lo} to ${hi}`} for the update, whose new data is ` +
      `${size(r2.summary.newBytes)} (${((100 * r2.summary.newBytes) / r2.summary.bytes).toFixed(2)}% of the image); ` +
      `unchanged files were hard-linked from release 1`,
  );

  const victim = c.followers[Math.min(1, c.followers.length - 1)]!;
  headline(`3. a sysadmin hot-fixes ${CONFIG_FILE} by hand on ${victim.name}; then the master publishes release 3`);
  note(`the live tree is read-only (files without write bits, directories 0555), so on ${victim.name} the admin runs:`);
  const editedAt = new Date();
  quote(`${victim.name}$ ${await editByHand(victim)}`);
  const warning = await waitDetected(c, victim, editedAt, 30_000);
  note(`${victim.name} noticed by itself within ${secs((Date.now() - editedAt.getTime()) / 1000)} ` +
    `(it checks its live tree every ${VERIFY_SEC} s here, verify.intervalSec; default 300) and logged:`);
  quote(warning);
  const v = await chunkswarm(victim, 'verify');
  note(`"chunkswarm verify" on ${victim.name} (exit status ${v.code}; 4 means content changed):`);
  quote(v.stdout);
  note(`meanwhile the master changes something else: ${await changeScript(src)}`);
  const r3 = await release(c, src, 3);
  const drift = await newestDrift(victim);
  note(`"chunkswarm drift list" on ${victim.name}:`);
  quote((await chunkswarm(victim, 'drift', 'list')).stdout);
  note(`"chunkswarm drift show ${drift.id}":`);
  quote((await chunkswarm(victim, 'drift', 'show', drift.id)).stdout);
  const copy = preservedCopy(victim, drift.id);
  note(`the preserved copy ${copy} ends with: ${await lastLine(copy)}`);
  const deep = await chunkswarm(victim, 'verify', '--deep');
  const same = (await readFile(join(victim.live, CONFIG_FILE))).equals(await readFile(join(src.root, CONFIG_FILE)));
  note(`"chunkswarm verify --deep" (hashes every file) on ${victim.name}, exit status ${deep.code}:`);
  quote(deep.stdout);
  if (deep.code !== 0 || !same || !drift.preserved.includes(CONFIG_FILE)) throw new Error(`${victim.name}: the drift was not handled as expected`);
  conclude(
    `${victim.name} detected the hand edit by itself, preserved it (data/drift/${drift.id}/ with report.json) before switching, ` +
      `and its live tree is now exactly release 3; to keep such a fix, make it on the master and publish`,
  );

  await summary(c, [r1, r2, r3], (performance.now() - started) / 1000);
}

async function summary(c: LocalCluster, rollouts: Rollout[], wall: number): Promise<void> {
  headline('Summary (release N: seconds from the end of "publish" until the node ran release N live)');
  const statuses = new Map(await Promise.all(c.nodes.map(async (n) => [n.name, await c.status(n)] as const)));
  const rows = c.nodes.map((n) => {
    const t = rollouts.reduce((sum, r) => plus(sum, r.traffic.get(n.name)!), ZERO);
    const isPub = n === c.publisher;
    return [
      n.name,
      String(statuses.get(n.name)?.live ?? statuses.get(n.name)?.newest?.version ?? '-'),
      ...rollouts.map((r) => (isPub ? '-' : r.liveAfter.get(n.name)!.toFixed(1))),
      isPub ? '-' : (t.fromPublisher / MB).toFixed(1),
      isPub ? '-' : (fromPeers(t) / MB).toFixed(1),
      (t.up / MB).toFixed(1),
    ];
  });
  const header = ['node', 'live', ...rollouts.map((_, i) => `release ${i + 1}`), 'MB from publisher', 'MB from peers', 'MB sent'];
  quote(table(header, rows));
  const image = rollouts[0]!.summary.bytes;
  const egress = rollouts.reduce((s, r) => s + r.traffic.get(c.publisher.name)!.up, 0);
  note(
    `publisher egress: ${mb(egress)} for all 3 releases = ${times(egress / image)} the image size (${mb(image)}) for ` +
      `${c.followers.length} followers; pushing the image to each from one server would take ${mb(image * c.followers.length)}`,
  );
  note(`wall time: ${secs(wall)}`);
  const notLive = c.followers.filter((n) => statuses.get(n.name)?.live !== 3);
  if (notLive.length > 0) throw new Error(`not on release 3: ${notLive.map((n) => n.name).join(', ')}`);
  conclude(`every follower runs release 3`);
}

try {
  await main();
} catch (err) {
  if (!interrupted) process.stdout.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
