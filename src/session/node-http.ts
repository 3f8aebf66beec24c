import type { Config } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { driftRecordIds, driftRecordViews, type FleetView } from '../fleet/index.js';
import { BytesHistory, HttpListener, NodeMetrics, RolloutTimer, type NodeSnapshot } from '../http/index.js';
import type { NodeStatusReport } from './status.js';

/** One sample every this many ms; HISTORY_SAMPLES of them span an hour. */
const SAMPLE_MS = 5000;
const HISTORY_SAMPLES = 720;
const DASHBOARD_DRIFT_RECORDS = 10;

/**
 * The node's metrics and dashboard listener (metrics.listen), fed from the node: its status at
 * each scrape, the fleet view, the bytes history sampled here, and rollout durations.
 */
export class NodeHttp {
  private readonly metrics: NodeMetrics;
  private readonly history = new BytesHistory(HISTORY_SAMPLES);
  private readonly rollouts = new RolloutTimer();
  private lastSample = 0;

  private constructor(private readonly o: NodeHttpOptions, private readonly listener: HttpListener) {
    this.metrics = o.metrics;
  }

  static async start(o: Omit<NodeHttpOptions, 'metrics'>): Promise<NodeHttp> {
    const metrics = new NodeMetrics({ name: o.config.node.name, publisher: o.config.publisher !== null, snapshot: async () => snapshotOf(await o.status(), await driftRecordIds(o.driftDir)), fleet: o.fleet });
    let self: NodeHttp | null = null;
    const listener = await HttpListener.start(o.config.metrics.listen!, {
      metrics,
      fleet: o.fleet,
      history: () => self?.history.list() ?? [],
      drift: () => driftRecordViews(o.driftDir, o.releaseDir, DASHBOARD_DRIFT_RECORDS),
    });
    self = new NodeHttp({ ...o, metrics }, listener);
    o.log.info(`metrics and dashboard on http://${listener.address}/`);
    return self;
  }

  get address(): string {
    return this.listener.address;
  }

  /** Every second, from the node's tick: rollout timing, and a bytes sample now and then. */
  async tick(now = Date.now()): Promise<void> {
    const r = await this.o.status();
    for (const [, seconds] of this.rollouts.observe(r.newest?.version ?? null, r.live, now)) this.metrics.observeRollout(seconds, this.o.config.node.name);
    if (now - this.lastSample < SAMPLE_MS) return;
    this.lastSample = now;
    const followers = this.o.fleet().nodes.filter((n) => !n.publisher);
    this.history.add({
      t: now,
      fromPublisher: followers.reduce((s, n) => s + n.bytesFromPublisher, 0),
      fromPeers: followers.reduce((s, n) => s + n.bytesFromPeers, 0),
    });
  }

  close(): Promise<void> {
    return this.listener.close();
  }
}

interface NodeHttpOptions {
  config: Config;
  log: Logger;
  driftDir: string;
  releaseDir: (version: number) => string;
  metrics: NodeMetrics;
  status(): Promise<NodeStatusReport>;
  fleet(): FleetView;
}

function snapshotOf(s: NodeStatusReport, drift: { all: string[]; unpulled: string[] }): NodeSnapshot {
  return {
    publisher: s.publisher,
    live: s.live ?? (s.publisher ? (s.newest?.version ?? null) : null),
    newest: s.newest?.version ?? null,
    bytesUp: s.bytesUp,
    bytesDown: s.bytesDown,
    bytesFromPublisher: s.bytesFromPublisher,
    piecesHave: s.progress?.have ?? 0,
    piecesTotal: s.progress?.total ?? 0,
    peers: s.peers.filter((p) => p.connected).length,
    banned: s.banned.length,
    drift: s.verify ?? { added: 0, removed: 0, changed: 0 },
    driftRecords: drift.all.length,
    driftUnpulled: drift.unpulled.length,
  };
}
