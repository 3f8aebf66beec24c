import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RsyncDaemon, type Pull } from '../lib/rsync-daemon.js';
import { ensureTool } from '../lib/tools.js';
import { Completions } from './completions.js';
import type { Method, MethodContext, MethodSession, ScenarioName, StepFigures } from './types.js';

const MB = 1e6;

/** rsync's --bwlimit is in KiB/s. */
function kib(bytesPerSec: number): number {
  return Math.max(1, Math.floor(bytesPerSec / 1024));
}

/** One pull that marks its node complete when it succeeds. */
async function pull(daemon: RsyncDaemon, module: string, dest: string, bwlimitKiB: number, onDone: () => void): Promise<Pull> {
  const r = await daemon.pull(module, dest, { bwlimitKiB });
  if (r.ok) onDone();
  return r;
}

/** Bytes in the regular files under `root` (0 if it does not exist yet). */
async function bytesUnder(root: string): Promise<number> {
  let total = 0;
  for (const d of await readdir(root, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (d.isFile()) total += await stat(join(d.parentPath, d.name)).then((s) => s.size, () => 0);
  }
  return total;
}

class RsyncSession implements MethodSession {
  constructor(
    private readonly ctx: MethodContext,
    private readonly daemon: RsyncDaemon,
    private readonly dests: string[],
  ) {}

  async step(scenario: ScenarioName): Promise<StepFigures> {
    const { ctx } = this;
    if (scenario === 'bootstrap') {
      // The publisher is stopped: the new node pulls from a frontend (its daemon, the same cap).
      const done = new Completions(1);
      const firstByte = new Completions(1);
      const dest = join(ctx.work, 'late-joiner');
      done.start();
      firstByte.start();
      const pulling = pull(this.daemon, 'frontend1', dest, kib(ctx.rate), () => done.mark(0));
      // rsync says nothing until a file is complete: its first byte is the first one on disk
      // (its temporary files included).
      const watching = firstByte.poll(async () => (await bytesUnder(dest)) > 0, ctx.timeoutMs(scenario));
      const r = await pulling;
      firstByte.mark(0);
      await watching;
      return { completions: done.times, firstByte: firstByte.times, publisherSent: 0, received: r.received, ...(r.ok ? {} : { note: r.stderr }) };
    }
    const module = scenario === 'cold' ? 'v1' : 'v2';
    const done = new Completions(this.dests.length);
    done.start();
    // Every frontend at once, each given an equal share of the publisher's upload.
    const pulls = this.dests.map((d, i) => pull(this.daemon, module, d, kib(ctx.rate / ctx.n), () => done.mark(i)));
    const timeout = new Promise<null>((r) => setTimeout(() => r(null), ctx.timeoutMs(scenario)).unref());
    const results = await Promise.race([Promise.all(pulls), timeout]);
    if (results === null) ctx.log(`rsync ${scenario}: timed out; the clients still running are stopped at close`);
    const sent = (results ?? []).reduce((a, r) => a + r.received, 0);
    const failed = (results ?? []).find((r) => !r.ok);
    return { completions: done.times, publisherSent: sent, received: sent, ...(failed ? { note: failed.stderr } : {}) };
  }

  close(): Promise<void> {
    return this.daemon.close();
  }
}

export const rsync: Method = {
  name: 'rsync',
  describe: (rate) =>
    `a real rsync daemon on 127.0.0.1; every frontend pulls at once (rsync -a --delete); the publisher's total upload is ` +
    `capped at the link rate by giving each of the N clients --bwlimit = rate/N (the daemon's sender honours it); ` +
    `bootstrap pulls from a frontend with --bwlimit = ${(rate / MB).toFixed(2)} MB/s`,
  available: async () => ensureTool('rsync'),
  async open(ctx) {
    const dests = Array.from({ length: ctx.n }, (_, i) => join(ctx.work, `frontend${i + 1}`));
    for (const d of dests) await mkdir(d, { recursive: true });
    const daemon = await RsyncDaemon.start(ctx.work, { v1: ctx.image.v1, v2: ctx.image.v2, frontend1: dests[0]! });
    return new RsyncSession(ctx, daemon, dests);
  },
};
