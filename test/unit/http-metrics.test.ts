import { describe, expect, it } from 'vitest';
import { BytesHistory, NodeMetrics, RolloutTimer, listenAddress, type NodeSnapshot } from '../../src/http/index.js';
import type { FleetView } from '../../src/fleet/index.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

describe('RolloutTimer', () => {
  it('times each release once, from first seen to live, and never what was known at start', () => {
    const t = new RolloutTimer();
    expect(t.observe(3, 2, 0)).toEqual([]); // 3 known at start: not timed
    expect(t.observe(3, 3, 1000)).toEqual([]);
    expect(t.observe(4, 3, 2000)).toEqual([]);
    expect(t.observe(5, 3, 3000)).toEqual([]); // 4 superseded by 5 before it went live
    expect(t.observe(5, 5, 7500)).toEqual([[5, 4.5]]);
    expect(t.observe(5, 5, 9000)).toEqual([]);
    expect(t.observe(5, 4, 9500)).toEqual([]); // a rollback is no rollout
  });
});

describe('listenAddress', () => {
  it('puts a bare port on loopback', () => {
    expect(listenAddress(9464)).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(listenAddress('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(listenAddress('[::1]:80')).toEqual({ host: '::1', port: 80 });
  });
});

describe('BytesHistory', () => {
  it('keeps the last samples only', () => {
    const h = new BytesHistory(2);
    for (const t of [1, 2, 3]) h.add({ t, fromPublisher: t, fromPeers: 0 });
    expect(h.list().map((s) => s.t)).toEqual([2, 3]);
  });
});

describe('NodeMetrics', () => {
  const snap: NodeSnapshot = {
    publisher: true, live: 4, newest: 4, bytesUp: 1000, bytesDown: 300, bytesFromPublisher: 100, piecesHave: 0, piecesTotal: 0,
    peers: 3, banned: 1, drift: { added: 1, removed: 0, changed: 2 }, driftRecords: 2, driftUnpulled: 1,
  };
  const view = {
    at: '', ok: true,
    summary: { nodes: 2, newest: 4, onNewest: 1, lagging: 1, unreachable: 0, errors: 0, unauthenticated: 0, drifted: 0 },
    nodes: [
      { name: 'master', publisher: true, live: 4, state: 'seeding', drift: { live: 0, unpulled: [] } },
      { name: 'web-1', publisher: false, live: 3, state: 'fetching', drift: { live: 2, unpulled: ['x'] } },
    ],
  } as unknown as FleetView;

  it('exposes the snapshot as valid text, counters at the node totals, fleet gauges on the publisher only', async () => {
    const m = new NodeMetrics({ name: 'master', publisher: true, snapshot: async () => snap, fleet: () => view });
    m.observeRollout(12, 'master');
    const { samples, types } = parsePromText(await m.text());
    expect(types.get('chunkswarm_sent_bytes_total')).toBe('counter');
    expect(sampleValue(samples, 'chunkswarm_sent_bytes_total', { node: 'master' })).toBe(1000);
    expect(sampleValue(samples, 'chunkswarm_received_bytes_total', { source: 'peers' })).toBe(200);
    expect(sampleValue(samples, 'chunkswarm_drift_paths', { kind: 'changed' })).toBe(2);
    expect(sampleValue(samples, 'chunkswarm_rollout_duration_seconds_bucket', { le: '20' })).toBe(1);
    expect(sampleValue(samples, 'chunkswarm_rollout_duration_seconds_bucket', { le: '10' })).toBe(0);
    expect(sampleValue(samples, 'chunkswarm_fleet_node_lag_releases', { node: 'web-1' })).toBe(1);
    expect(sampleValue(samples, 'chunkswarm_fleet_node_drift', { node: 'web-1' })).toBe(3);
    expect(sampleValue(samples, 'chunkswarm_fleet_nodes', { state: 'fetching' })).toBe(1);
    // Scraped twice, the counters stay at the totals (not added up).
    expect(sampleValue(parsePromText(await m.text()).samples, 'chunkswarm_sent_bytes_total')).toBe(1000);
    const follower = new NodeMetrics({ name: 'web-1', publisher: false, snapshot: async () => ({ ...snap, publisher: false }), fleet: () => view });
    expect(sampleValue(parsePromText(await follower.text()).samples, 'chunkswarm_fleet_lagging_nodes')).toBeUndefined();
  });
});
