import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FleetView } from '../fleet/index.js';

/** What the metrics read at each scrape: this node's status, in the fields they need. */
export interface NodeSnapshot {
  publisher: boolean;
  live: number | null;
  newest: number | null;
  bytesUp: number;
  bytesDown: number;
  bytesFromPublisher: number;
  piecesHave: number;
  piecesTotal: number;
  peers: number;
  banned: number;
  drift: { added: number; removed: number; changed: number };
  driftRecords: number;
  driftUnpulled: number;
}

/** Seconds from a release known to live on this node: a small update takes seconds, a cold GB minutes. */
const ROLLOUT_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * The node's Prometheus metrics, in a registry of its own. Values are read at scrape time from the
 * node (counters are the node's own totals, so they match `status --json`); the fleet gauges only
 * on the publisher, so that a fleet is counted once however many nodes are scraped.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  private readonly rollout: Histogram<'node'>;
  private snap: NodeSnapshot | null = null;
  private fleetView: FleetView | null = null;

  constructor(private readonly o: { name: string; publisher: boolean; snapshot: () => Promise<NodeSnapshot>; fleet: () => FleetView }) {
    const r = this.registry;
    const node = o.name;
    const self = this;
    const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge<string>, s: NodeSnapshot) => void) =>
      new Gauge({ name, help, labelNames: ['node', ...labelNames], registers: [r], collect() {
        this.reset();
        if (self.snap) collect(this, self.snap);
      } });
    const counter = (name: string, help: string, labelNames: string[], collect: (c: Counter<string>, s: NodeSnapshot) => void) =>
      new Counter({ name, help, labelNames: ['node', ...labelNames], registers: [r], collect() {
        this.reset();
        if (self.snap) collect(this, self.snap);
      } });
    const set = (g: Gauge<string>, v: number | null, labels: Record<string, string> = {}) => v !== null && g.set({ node, ...labels }, v);
    gauge('chunkswarm_release_live', 'Release version live on this node (the publisher: the newest it serves).', [], (g, s) => set(g, s.live));
    gauge('chunkswarm_release_newest', 'Newest release version this node knows of, with a valid signature.', [], (g, s) => set(g, s.newest));
    counter('chunkswarm_received_bytes_total', 'Piece bytes received, by source (the publisher or other peers).', ['source'], (c, s) => {
      c.inc({ node, source: 'publisher' }, s.bytesFromPublisher);
      c.inc({ node, source: 'peers' }, s.bytesDown - s.bytesFromPublisher);
    });
    counter('chunkswarm_sent_bytes_total', 'Piece bytes sent to peers.', [], (c, s) => c.inc({ node }, s.bytesUp));
    gauge('chunkswarm_pieces', 'Pieces of the release being fetched: held and in all.', ['state'], (g, s) => {
      set(g, s.piecesHave, { state: 'have' });
      set(g, s.piecesTotal, { state: 'total' });
    });
    gauge('chunkswarm_peers', 'Authenticated peers connected now.', [], (g, s) => set(g, s.peers));
    gauge('chunkswarm_banned_peers', 'Peers this node banned since it started.', [], (g, s) => set(g, s.banned));
    gauge('chunkswarm_drift_paths', 'Paths of the live tree changed by hand, at the last check.', ['kind'], (g, s) => {
      for (const kind of ['added', 'removed', 'changed'] as const) set(g, s.drift[kind], { kind });
    });
    gauge('chunkswarm_drift_records', 'Preserved drift records on this node.', [], (g, s) => set(g, s.driftRecords));
    gauge('chunkswarm_drift_unpulled_records', 'Drift records no node has pulled yet (chunkswarm drift pull).', [], (g, s) => set(g, s.driftUnpulled));
    this.rollout = new Histogram({
      name: 'chunkswarm_rollout_duration_seconds', help: 'From a new release known to it live on this node.', labelNames: ['node'], buckets: ROLLOUT_BUCKETS, registers: [r],
    });
    if (o.publisher) this.fleetGauges();
  }

  /** The text exposition: one snapshot of the node (and, on the publisher, of the fleet) per scrape. */
  async text(): Promise<string> {
    this.snap = await this.o.snapshot();
    this.fleetView = this.o.publisher ? this.o.fleet() : null;
    return this.registry.metrics();
  }

  observeRollout(seconds: number, node: string): void {
    this.rollout.observe({ node }, seconds);
  }

  private fleetGauges(): void {
    const r = this.registry;
    const self = this;
    const fleetGauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge<string>, v: FleetView) => void) =>
      new Gauge({ name, help, labelNames, registers: [r], collect() {
        this.reset();
        if (self.fleetView) collect(this, self.fleetView);
      } });
    fleetGauge('chunkswarm_fleet_nodes', 'Nodes of the fleet by state (publisher only).', ['state'], (g, v) => {
      const by = new Map<string, number>();
      for (const n of v.nodes) by.set(n.state, (by.get(n.state) ?? 0) + 1);
      for (const [state, n] of by) g.set({ state }, n);
    });
    fleetGauge('chunkswarm_fleet_newest_release', 'Newest release any reachable node knows of (publisher only).', [], (g, v) => v.summary.newest !== null && g.set(v.summary.newest));
    fleetGauge('chunkswarm_fleet_lagging_nodes', 'Reachable followers not live on the newest release (publisher only).', [], (g, v) => g.set(v.summary.lagging));
    fleetGauge('chunkswarm_fleet_node_release_live', 'Release live on each node, from its signed report (publisher only).', ['node'], (g, v) => {
      for (const n of v.nodes) if (n.live !== null && n.state !== 'unreachable') g.set({ node: n.name }, n.live);
    });
    fleetGauge('chunkswarm_fleet_node_lag_releases', 'How many releases each node is behind the newest (publisher only).', ['node'], (g, v) => {
      for (const n of v.nodes) if (!n.publisher && v.summary.newest !== null && n.state !== 'unauthenticated') g.set({ node: n.name }, v.summary.newest - (n.live ?? 0));
    });
    fleetGauge('chunkswarm_fleet_node_up', '1 if the node reported within fleet.unreachableAfterSec (publisher only).', ['node'], (g, v) => {
      for (const n of v.nodes) g.set({ node: n.name }, n.state === 'unreachable' || n.state === 'unauthenticated' ? 0 : 1);
    });
    fleetGauge('chunkswarm_fleet_node_drift', 'Paths changed by hand in each node\'s live tree plus its unpulled drift records (publisher only).', ['node'], (g, v) => {
      for (const n of v.nodes) g.set({ node: n.name }, n.drift.live + n.drift.unpulled.length);
    });
  }
}
