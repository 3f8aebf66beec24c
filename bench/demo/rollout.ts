import type { LocalCluster } from '../lib/cluster.js';
import type { NodeStatusReport } from '../../src/index.js';
import { progressView, type NodeRow } from './progress.js';
import { counters, minus, ZERO, type Counters } from './traffic.js';

const POLL_MS = 250;

/** What a node is doing, short enough for a bar's line. */
const PHASES: Record<string, string> = {
  starting: 'starting',
  idle: 'waiting for head',
  seeding: 'waiting for head',
  objects: 'fetching objects',
  pieces: 'fetching chunks',
  activating: 'verify + switch',
  stopped: 'stopped',
};

function row(name: string, publisher: boolean, s: NodeStatusReport | null, version: number, base: Counters, liveAfter: number | null): NodeRow {
  const d = minus(counters(s), base);
  const p = s?.progress?.version === version ? s.progress : null;
  const pct = liveAfter !== null ? 100 : p && p.bytesTotal > 0 ? (100 * p.bytesHave) / p.bytesTotal : 0;
  const state = liveAfter !== null ? `live after ${liveAfter.toFixed(1)} s` : PHASES[s?.phase ?? 'starting'] ?? s!.phase;
  return { name, publisher, pct, liveAfter, state, got: d.down, fromPublisher: d.fromPublisher, sent: d.up };
}

/**
 * Shows every node's progress towards `version` until all followers run it live, and returns
 * when each went live, in seconds after `t0` (performance.now() when the publish finished).
 * status.json is rewritten once a second, so the times are good to about a second.
 */
export async function watchRollout(o: {
  cluster: LocalCluster;
  version: number;
  t0: number;
  before: Map<string, Counters>;
  tty: boolean;
  timeoutMs: number;
}): Promise<Map<string, number>> {
  const { cluster, version } = o;
  const liveAfter = new Map<string, number>();
  // Progress disappears from status.json between the last piece and the switch: keep the highest seen.
  const shown = new Map<string, number>();
  const view = progressView(o.tty);
  try {
    for (;;) {
      const elapsed = (performance.now() - o.t0) / 1000;
      const statuses = await Promise.all(cluster.nodes.map((n) => cluster.status(n)));
      const rows = cluster.nodes.map((n, i) => {
        const s = statuses[i]!;
        if (n !== cluster.publisher && s?.live === version && !liveAfter.has(n.name)) liveAfter.set(n.name, elapsed);
        const r = row(n.name, n === cluster.publisher, s, version, o.before.get(n.name) ?? ZERO, liveAfter.get(n.name) ?? null);
        r.pct = Math.max(r.pct, shown.get(n.name) ?? 0);
        shown.set(n.name, r.pct);
        return r;
      });
      view.update(rows, elapsed);
      if (liveAfter.size === cluster.followers.length) return liveAfter;
      if (elapsed * 1000 > o.timeoutMs) {
        const late = cluster.followers.filter((f) => !liveAfter.has(f.name));
        const tails = await Promise.all(late.map(async (n) => `--- ${n.name} (serve.log)\n${(await cluster.log(n)).split('\n').slice(-12).join('\n')}`));
        throw new Error(`release ${version} was not live on ${late.map((f) => f.name).join(', ')} after ${o.timeoutMs / 1000} s\n${tails.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    view.stop();
  }
}
