import type { ScenarioName } from '../bandwidth/types.js';
import type { ImagePieces } from './image-pieces.js';
import type { NodeSpec, Policy, SimSpec } from './types.js';

/** One-way latency of a node on loopback, ms (the benchmark's nodes all run on 127.0.0.1). */
export const LOOPBACK_MS = 0.05;

/**
 * Fixed costs of a real node that the link model does not produce, read off the real benchmark
 * (README, 2026-11-25): ~0.3 s from the publish to a follower's first object request (head watch
 * and gossip), ~0.7 s from its last piece to the release live (staging plan, verifying and renaming
 * 250 files); and from the run of 2026-12-04 21:54 (bench/results/bandwidth-2026-12-04T21-54-06-059Z):
 * ~0.5 s before a new node with the publisher gone has peers (the joiner was live 33.1–34.4 s
 * after its start against a bound of 32.1 s; it was ~6 s before the start-up fixes of issue 10).
 * The objects themselves are moved by the link model (SimSpec.objectBytes).
 */
export const BENCH_COSTS = { startDelayMs: 300, finishDelayMs: 700, bootstrapDiscoveryMs: 500 };

const node = (rate: number, latencyMs: number, extra: Partial<NodeSpec> = {}): NodeSpec => ({ up: rate, down: rate, latencyMs, joinAt: 0, ...extra });

/** The steps of `npm run bench` (bench/bandwidth) for one N: same image, rate, order and fixed costs. */
export function benchSpec(scenario: ScenarioName, img: ImagePieces, n: number, rate: number, policy: Policy, seed: number): SimSpec {
  const base = { seed, maxPeers: 64, dtMs: 10, policy, startDelayMs: BENCH_COSTS.startDelayMs, finishDelayMs: BENCH_COSTS.finishDelayMs, objectBytes: img.v1ObjectBytes, maxTimeMs: 600_000 };
  const publisher = { up: rate, down: rate, latencyMs: LOOPBACK_MS };
  switch (scenario) {
    case 'cold':
      return { ...base, name: `cold N=${n}`, pieceSizes: img.v1, publisher, nodes: Array.from({ length: n }, () => node(rate, LOOPBACK_MS)) };
    case 'incremental':
      return { ...base, name: `incremental N=${n}`, pieceSizes: img.v2, objectBytes: img.v2NewObjectBytes, publisher, nodes: Array.from({ length: n }, () => node(rate, LOOPBACK_MS, { holds: img.v2HeldFromV1 })) };
    case 'bootstrap':
      return {
        ...base,
        name: `bootstrap N=${n}`,
        pieceSizes: img.v2,
        nodes: [...Array.from({ length: n }, () => node(rate, LOOPBACK_MS, { holds: 'all' })), node(rate, LOOPBACK_MS, { discoveryMs: BENCH_COSTS.bootstrapDiscoveryMs })],
      };
  }
}

/** A rollout beyond one machine: heterogeneous links, churn, the publisher leaving. */
export interface ScaleCase {
  name: string;
  n: number;
  /** Link rate of a regular node (and the publisher), bytes/s, up and down. */
  rate: number;
  /** One-way latency of each node, ms. */
  latencyMs: number;
  /** Share of nodes whose links run at `slowFactor` of the rate. */
  slowShare?: number;
  slowFactor?: number;
  /** Share of nodes that join late (uniformly over the first S/rate) and that die (same window). */
  lateShare?: number;
  failShare?: number;
  /** The publisher leaves at this multiple of S/rate (after it has sent its copy). */
  publisherLeavesAt?: number;
  /** One new node fetches from n frontends that hold the release; no publisher. */
  bootstrap?: boolean;
}

export function scaleSpec(c: ScaleCase, pieceSizes: number[], policy: Policy, seed: number, opts: { maxPeers: number; dtMs: number; objectBytes: number }): SimSpec {
  // Node roles are drawn from their own generator so that every policy sees the same swarm.
  let s = seed * 2654435761;
  const rnd = () => ((s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 2 ** 32);
  const bytes = pieceSizes.reduce((a, b) => a + b, 0);
  const span = (bytes / c.rate) * 1000;
  const base = { seed, pieceSizes, maxPeers: opts.maxPeers, dtMs: opts.dtMs, policy, startDelayMs: BENCH_COSTS.startDelayMs, finishDelayMs: BENCH_COSTS.finishDelayMs, objectBytes: opts.objectBytes, maxTimeMs: 20 * span };
  if (c.bootstrap) {
    return { ...base, name: c.name, nodes: [...Array.from({ length: c.n }, () => node(c.rate, c.latencyMs, { holds: 'all' })), node(c.rate, c.latencyMs)] };
  }
  const nodes = Array.from({ length: c.n }, (): NodeSpec => {
    const rate = rnd() < (c.slowShare ?? 0) ? c.rate * (c.slowFactor ?? 1) : c.rate;
    const spec = node(rate, c.latencyMs);
    if (rnd() < (c.lateShare ?? 0)) spec.joinAt = rnd() * span;
    if (rnd() < (c.failShare ?? 0)) spec.failAt = spec.joinAt + rnd() * span;
    return spec;
  });
  const publisher = { up: c.rate, down: c.rate, latencyMs: c.latencyMs, ...(c.publisherLeavesAt !== undefined && { leaveAt: c.publisherLeavesAt * span }) };
  return { ...base, name: c.name, publisher, nodes };
}
