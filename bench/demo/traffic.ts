import type { LocalCluster, NodeHandle } from '../lib/cluster.js';
import type { NodeStatusReport } from '../../src/index.js';

/** A node's byte counters (cumulative since it started), as its status.json reports them. */
export interface Counters {
  up: number;
  down: number;
  fromPublisher: number;
}

export const ZERO: Counters = { up: 0, down: 0, fromPublisher: 0 };

export function counters(s: NodeStatusReport | null): Counters {
  return s ? { up: s.bytesUp, down: s.bytesDown, fromPublisher: s.bytesFromPublisher } : ZERO;
}

export function minus(a: Counters, b: Counters): Counters {
  return { up: a.up - b.up, down: a.down - b.down, fromPublisher: a.fromPublisher - b.fromPublisher };
}

export function plus(a: Counters, b: Counters): Counters {
  return { up: a.up + b.up, down: a.down + b.down, fromPublisher: a.fromPublisher + b.fromPublisher };
}

/** Bytes a follower received from other followers rather than from the publisher. */
export function fromPeers(c: Counters): number {
  return c.down - c.fromPublisher;
}

export async function snapshot(cluster: LocalCluster, nodes: NodeHandle[] = cluster.nodes): Promise<Map<string, Counters>> {
  const all = await Promise.all(nodes.map(async (n) => [n.name, counters(await cluster.status(n))] as const));
  return new Map(all);
}

/** status.json is rewritten once a second: waiting this long makes the next read include everything so far. */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1200));
}
