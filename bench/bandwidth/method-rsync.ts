import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetHost } from '../lib/netns.js';
import { RsyncDaemon, type Pull } from '../lib/rsync-daemon.js';
import { ensureTool } from '../lib/tools.js';
import { Completions } from './completions.js';
import type { Method, MethodContext, MethodSession, ScenarioName, StepFigures } from './types.js';

const MB = 1e6;

/** rsync's --bwlimit is in KiB/s. */
function kib(bytesPerSec: number): number {
  return Math.max(1, Math.floor(bytesPerSec / 1024));
}

/** One pull (from `host`'s namespace, if any) that marks its node complete when it succeeds. */
async function pull(daemon: RsyncDaemon, module: string, dest: string, bwlimitKiB: number | null, host: NetHost | undefined, onDone: () => void): Promise<Pull> {
  const r = await daemon.pull(module, dest, { bwlimitKiB, host });
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
  private frontendDaemon: RsyncDaemon | null = null;

  constructor(
    private readonly ctx: MethodContext,
    private readonly daemon: RsyncDaemon,
    private readonly dests: string[],
  ) {}

  /** The cap of a pull that `share` of one link carries (null in namespaces: the kernel caps it). */
  private bwlimit(share: number): number | null {
    return this.ctx.hosts ? null : kib(this.ctx.rate * share);
  }

  async step(scenario: ScenarioName): Promise<StepFigures> {
    const { ctx } = this;
    const hosts = ctx.hosts;
    if (scenario === 'bootstrap') {
      // The publisher stops; the new node pulls from the first frontend's daemon, over that
      // frontend's link.
      await this.daemon.close();
      this.frontendDaemon = await RsyncDaemon.start(ctx.work, { frontend1: this.dests[0]! }, { name: 'frontend1', host: hosts?.[1] });
      const done = new Completions(1);
      const firstByte = new Completions(1);
      const dest = join(ctx.work, 'late-joiner');
      done.start();
      firstByte.start();
      const pulling = pull(this.frontendDaemon, 'frontend1', dest, this.bwlimit(1), hosts?.[ctx.n + 1], () => done.mark(0));
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
    // Every frontend at once; on loopback each is given an equal share of the publisher's upload,
    // in namespaces they share its link.
    const pulls = this.dests.map((d, i) => pull(this.daemon, module, d, this.bwlimit(1 / ctx.n), hosts?.[i + 1], () => done.mark(i)));
    const timeout = new Promise<null>((r) => setTimeout(() => r(null), ctx.timeoutMs(scenario)).unref());
    const results = await Promise.race([Promise.all(pulls), timeout]);
    if (results === null) ctx.log(`rsync ${scenario}: timed out; the clients still running are stopped at close`);
    const sent = (results ?? []).reduce((a, r) => a + r.received, 0);
    const failed = (results ?? []).find((r) => !r.ok);
    return { completions: done.times, publisherSent: sent, received: sent, ...(failed ? { note: failed.stderr } : {}) };
  }

  async close(): Promise<void> {
    await this.daemon.close();
    await this.frontendDaemon?.close();
  }
}

export const rsync: Method = {
  name: 'rsync',
  describe: (rate, netns) =>
    netns
      ? 'a real rsync daemon in the publisher\'s network namespace; every frontend pulls at once (rsync -a --delete) from its own ' +
        `namespace, no --bwlimit: the kernel's links cap them at ${(rate / MB).toFixed(2)} MB/s (the publisher's upload is shared by ` +
        'the N pulls as TCP shares it); bootstrap: the publisher\'s daemon stops, the new node pulls from a daemon on the first frontend'
      : `a real rsync daemon on 127.0.0.1; every frontend pulls at once (rsync -a --delete); the publisher's total upload is ` +
        `capped at the link rate by giving each of the N clients --bwlimit = rate/N (the daemon's sender honours it); ` +
        `bootstrap: the publisher's daemon stops, the new node pulls from a daemon serving the first frontend with --bwlimit = ${(rate / MB).toFixed(2)} MB/s`,
  available: async () => ensureTool('rsync'),
  async open(ctx) {
    const dests = Array.from({ length: ctx.n }, (_, i) => join(ctx.work, `frontend${i + 1}`));
    for (const d of dests) await mkdir(d, { recursive: true });
    const daemon = await RsyncDaemon.start(ctx.work, { v1: ctx.image.v1, v2: ctx.image.v2 }, { host: ctx.hosts?.[0] });
    return new RsyncSession(ctx, daemon, dests);
  },
};
