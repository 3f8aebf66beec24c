import { describe, expect, it } from 'vitest';
import { runSim } from '../../bench/sim/engine.js';
import { newObjectBytes, type TreeScan } from '../../bench/sim/image-pieces.js';
import { AS_MEASURED, CURRENT, THIS_BRANCH } from '../../bench/sim/policies.js';
import type { NodeSpec, SimSpec } from '../../bench/sim/types.js';

const KiB = 1024;
const rate = 1e6;
const pieces = Array.from({ length: 40 }, (_, i) => (16 + ((i * 37) % 200)) * KiB);
const content = pieces.reduce((a, b) => a + b, 0);
const node = (extra: Partial<NodeSpec> = {}): NodeSpec => ({ up: rate, down: rate, latencyMs: 2, joinAt: 0, ...extra });

function spec(nodes: NodeSpec[], extra: Partial<SimSpec> = {}): SimSpec {
  return {
    name: 'tiny', seed: 7, pieceSizes: pieces, publisher: { up: rate, down: rate, latencyMs: 2 }, nodes,
    maxPeers: 64, dtMs: 10, policy: THIS_BRANCH, startDelayMs: 100, finishDelayMs: 100, objectBytes: 20_000, maxTimeMs: 600_000, ...extra,
  };
}

describe('rollout simulator (bench/sim) on a tiny swarm', () => {
  it('brings every node live, with the bytes adding up', () => {
    const r = runSim(spec(Array.from({ length: 6 }, () => node())));
    expect(r.incomplete).toBe(0);
    expect(r.nodes.every((x) => x.live !== null && x.bytesDown >= content)).toBe(true);
    // Every piece leaves the publisher at least once; nothing is received that was not sent, and
    // what was sent but not received is at most the frames still on their way at the end.
    expect(r.publisherSent).toBeGreaterThanOrEqual(content);
    const up = r.publisherSent + r.nodes.reduce((a, x) => a + x.bytesUp, 0);
    const down = r.nodes.reduce((a, x) => a + x.bytesDown, 0);
    expect(down).toBeLessThanOrEqual(up + 1);
    expect(up - down).toBeLessThan(0.1 * down);
    expect(r.last!).toBeGreaterThanOrEqual(r.boundSeconds);
    expect(r.boundSeconds).toBeCloseTo(content / rate, 6);
  });

  it('passes a frame that finds the receiving link idle at once, as the token buckets do, without beating the rate', () => {
    const frame = 64 * KiB;
    const slow = 500_000;
    const one = (sizes: number[]) => runSim(spec([node({ up: slow, down: slow, latencyMs: 0 })], {
      pieceSizes: sizes, publisher: { up: slow, down: slow, latencyMs: 0 }, objectBytes: 0, startDelayMs: 0, finishDelayMs: 0,
    }));
    // The publisher's bucket starts empty, so its frame waits one frame time; the follower's
    // download bucket filled meanwhile and lets it through (it took two frame times before).
    const step = 0.01;
    const single = one([frame]);
    expect(single.last!).toBeGreaterThanOrEqual(frame / slow - step);
    expect(single.last!).toBeLessThan(1.5 * frame / slow);
    // Back to back, the bursts are spent: eight frames take eight frame times at least.
    expect(one(Array.from({ length: 8 }, () => frame)).last!).toBeGreaterThanOrEqual(8 * frame / slow - step);
  });

  it('is reproducible for a seed', () => {
    const a = runSim(spec(Array.from({ length: 4 }, () => node())));
    const b = runSim(spec(Array.from({ length: 4 }, () => node())));
    expect(a.nodes).toEqual(b.nodes);
    expect(a.last).toBe(b.last);
  });

  it('survives a node dying, a late joiner and the publisher leaving after its copy', () => {
    const nodes = [...Array.from({ length: 5 }, () => node()), node({ failAt: 3_000 }), node({ joinAt: 10_000 })];
    const r = runSim(spec(nodes, { publisher: { up: rate, down: rate, latencyMs: 2, leaveAt: 30_000 } }));
    expect(r.nodes[5]!.failed).toBe(true);
    expect(r.nodes.filter((x) => !x.failed).every((x) => x.live !== null)).toBe(true);
    expect(r.nodes[6]!.live!).toBeGreaterThan(10);
  });

  it('bootstraps a new node from frontends alone', () => {
    const r = runSim(spec([...Array.from({ length: 3 }, () => node({ holds: 'all' })), node()], { publisher: undefined }));
    expect(r.n).toBe(1);
    expect(r.publisherSent).toBe(0);
    expect(r.nodes[0]!.live).not.toBeNull();
    expect(r.nodes[0]!.bytesFromPublisher).toBe(0);
  });

  it('lays a random overlay over nodes up from the start: degrees within [0.75, 1] x maxPeers, few hops from the publisher', () => {
    let hops: number[] = [];
    let degrees: number[] = [];
    const s = spec(Array.from({ length: 120 }, () => node()), { maxPeers: 8, maxTimeMs: 1_000 });
    s.observe = (second, nodes) => {
      if (second !== 1) return;
      degrees = nodes.map((n) => n.peers.size);
      hops = nodes.map(() => -1);
      hops[0] = 0;
      for (const queue = [0]; queue.length > 0; ) {
        const u = queue.shift()!;
        for (const v of nodes[u]!.peers) if (hops[v] === -1) queue.push(v), (hops[v] = hops[u]! + 1);
      }
    };
    runSim(s);
    expect(degrees).toHaveLength(121);
    expect(Math.min(...degrees)).toBeGreaterThanOrEqual(6);
    expect(Math.max(...degrees)).toBeLessThanOrEqual(8);
    // A random graph of degree 6-8 over 121 nodes is 3-4 hops deep; nodes that met one by one as
    // they joined made a band of cliques, ~15 hops deep.
    expect(Math.min(...hops)).toBe(0);
    expect(Math.max(...hops)).toBeLessThanOrEqual(5);
  });

  it('runs the current session, whose downloaders report their unchokers and whose haves to choked peers wait for a tick, on an overlay sparser than the swarm', () => {
    expect(CURRENT.reportUnchokers).toBe(true);
    expect(CURRENT.laterHaves).toBe(true);
    const r = runSim(spec(Array.from({ length: 30 }, () => node()), { policy: CURRENT, maxPeers: 12 }));
    expect(r.incomplete).toBe(0);
    expect(r.last!).toBeGreaterThanOrEqual(r.boundSeconds);
  });

  it('runs the session of 2026-11-25 too (the validation baseline)', () => {
    const r = runSim(spec(Array.from({ length: 6 }, () => node()), { policy: AS_MEASURED }));
    expect(r.incomplete).toBe(0);
  });

  it('counts, for an update, only the objects a node lacks: changed file objects and the trees on their paths', () => {
    const scan = (files: Record<string, string>, dirs: Record<string, number>): TreeScan => ({
      chunks: [], objectBytes: 0,
      fileObjects: new Map(Object.entries(files).map(([p, d]) => [p, { digest: d, bytes: 100 }])),
      dirEntries: new Map(Object.entries(dirs)),
    });
    const dirs = { '': 2, a: 2, b: 1 };
    const v1 = scan({ 'a/x': '1', 'a/y': '2', 'b/z': '3' }, dirs);
    expect(newObjectBytes(v1, v1)).toBe(0);
    // a/x edited: its file object, the tree of a (2 entries) and of the root (2 entries).
    expect(newObjectBytes(v1, scan({ 'a/x': '9', 'a/y': '2', 'b/z': '3' }, dirs))).toBe(100 + 4 * 64);
    // b/z removed: b's tree (now empty) and the root's.
    expect(newObjectBytes(v1, scan({ 'a/x': '1', 'a/y': '2' }, { '': 2, a: 2, b: 0 }))).toBe(2 * 64);
  });
});
