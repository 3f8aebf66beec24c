import { ManualClock } from '../../src/core/index.js';
import { seededRandom, shuffled } from '../../src/scheduler/index.js';
import { defaultBurst } from '../../src/swarm/token-bucket.js';
import { kumarRoss, spread } from '../bandwidth/bound.js';
import { Calendar } from './calendar.js';
import { Kind, SimNode, type Msg, type Net } from './sim-node.js';
import type { NodeResult, SimResult, SimSpec } from './types.js';

/** A node refused its objects asks again after about this long (object-fetch.ts: 200 ms, growing to 2 s). */
const OBJECT_RETRY_MS = 400;

type Control = { what: 'start' | 'live' | 'fail' | 'tick' | 'join'; node: number };

/**
 * A discrete-event rollout: the real PieceScheduler, Choker and SuperSeeder of every node, driven
 * by messages with per-node latency, and piece bytes moved by a fluid bandwidth model (LinkShare)
 * in steps of `dtMs`. Message delivery is resolved to the same step. The model leaves out CPU,
 * disk, TCP slow start and loss: links are the only limit.
 */
export function runSim(spec: SimSpec): SimResult {
  const wall0 = performance.now();
  const clock = new ManualClock();
  const random = seededRandom(spec.seed);
  const dt = spec.dtMs;
  const stepOf = (ms: number) => Math.max(0, Math.round(ms / dt));
  const messages = new Calendar<Msg>();
  const controls = new Calendar<Control>();
  const nodes: SimNode[] = [];
  const total = spec.nodes.length + (spec.publisher ? 1 : 0);
  let step = 0;
  let events = 0;
  const done: Array<number | null> = new Array<number | null>(total).fill(null);
  let pending = 0;

  const net: Net = {
    clock,
    random,
    pieceSizes: spec.pieceSizes,
    policy: spec.policy,
    expectedPeers: Math.min(spec.maxPeers, total - 1),
    send(kind, from, to, index, bytes) {
      const lat = nodes[from]!.spec.latencyMs + nodes[to]!.spec.latencyMs;
      messages.at(step + stepOf(lat), bytes === undefined ? { kind, from, to, index } : { kind, from, to, index, bytes });
    },
    node: (i) => nodes[i]!,
    completed(n) {
      controls.at(step + stepOf(spec.finishDelayMs), { what: 'live', node: n.idx });
    },
    objectsFetched(n) {
      if (n.alive && !n.started) n.startServing();
    },
  };

  if (spec.publisher) {
    const p = spec.publisher;
    nodes.push(new SimNode(0, 'publisher', { up: p.up, down: p.down, latencyMs: p.latencyMs, joinAt: 0, ...(p.leaveAt !== undefined && { failAt: p.leaveAt }) }, net));
  }
  for (const s of spec.nodes) nodes.push(new SimNode(nodes.length, s.holds === 'all' ? 'seed' : 'follower', s, net));
  const followers = nodes.filter((n) => n.role === 'follower');
  pending = followers.filter((n) => n.spec.failAt === undefined).length;

  const upBudget = Float64Array.from(nodes, (n) => (n.spec.up * dt) / 1000);
  const downBudget = Float64Array.from(nodes, (n) => (n.spec.down * dt) / 1000);
  // src/swarm's token buckets keep what an idle link did not use, up to their burst, so a frame
  // that finds its link idle passes at once instead of taking its full time at the rate; they
  // start empty. Without this every hop cost a frame's time twice, up and down (the model ran
  // 5-6 % slower than the real cold rollouts at N = 4-16).
  const upBurst = Float64Array.from(nodes, (n) => Math.max(upBudget[n.idx]!, defaultBurst(n.spec.up)));
  const downBurst = Float64Array.from(nodes, (n) => Math.max(downBudget[n.idx]!, defaultBurst(n.spec.down)));
  const upTokens = new Float64Array(nodes.length);
  const downTokens = new Float64Array(nodes.length);
  const alive: SimNode[] = [];

  const connect = (a: SimNode, b: SimNode) => {
    if (a === b || a.peers.has(b.idx)) return;
    a.connect(b.idx);
    b.connect(a.idx);
  };
  /**
   * Joins the overlay: connections to random live nodes with room, up to three quarters of maxPeers
   * (hyperswarm keeps looking for peers on the topic until it has maxPeers; others then connect to
   * the newcomer too), so that degrees stay within [0.75, 1] x maxPeers as they would in a swarm.
   */
  const target = Math.ceil(0.75 * spec.maxPeers);
  const meet = (n: SimNode) => {
    const want = Math.min(alive.length - (alive.includes(n) ? 1 : 0), target);
    for (let tries = 0; n.peers.size < want && tries < 20 * want; tries++) {
      const o = alive[Math.floor(random() * alive.length)]!;
      if (o.peers.size < spec.maxPeers) connect(n, o);
    }
  };
  const join = (n: SimNode) => {
    if (total - 1 <= spec.maxPeers) for (const o of [...alive]) connect(n, o);
    // The nodes up from the start meet once all of them are up (below): met one by one as they
    // join, each could only reach the few before it that still had room, and the overlay became a
    // band of cliques (N=1,000: 25 hops from the publisher to the farthest node, instead of 3).
    else if (step > 0) meet(n);
    alive.push(n);
    n.alive = true;
  };
  const fail = (n: SimNode) => {
    if (!n.alive) return;
    n.alive = false;
    alive.splice(alive.indexOf(n), 1);
    for (const p of [...n.peers]) {
      nodes[p]!.disconnect(n.idx);
      n.disconnect(p);
    }
  };

  // The overlay exists before the publish, as in the benchmark (nodes wait for their peers first).
  for (const n of nodes) {
    const joinAt = n.spec.joinAt + (n.spec.discoveryMs ?? 0);
    controls.at(stepOf(joinAt), { what: 'join', node: n.idx });
    if (n.spec.failAt !== undefined) controls.at(stepOf(n.spec.failAt), { what: 'fail', node: n.idx });
    controls.at(stepOf(joinAt + random() * spec.policy.tickMs), { what: 'tick', node: n.idx });
  }

  const control = (c: Control) => {
    const n = nodes[c.node]!;
    events++;
    switch (c.what) {
      case 'join': {
        join(n);
        if (n.role === 'publisher') n.startPublishing();
        else if (n.role === 'seed') n.startServing();
        else controls.at(step + stepOf(spec.startDelayMs * (0.75 + 0.5 * random())), { what: 'start', node: n.idx });
        return;
      }
      case 'start': {
        if (!n.alive) return;
        // Objects first, from a peer that holds the release's space (the publisher is one): a random
        // one of them, as session/object-fetch.ts spreads its requests over the peers on the release.
        const onIt = [...n.peers].map((p) => nodes[p]!).filter((p) => p.started);
        // The publisher tells nodes beyond its object clients to ask again (session/object-admission.ts).
        const open = onIt.filter((p) => p.role !== 'publisher' || p.objectClients.size < spec.policy.objectClients);
        const from = open.length > 0 ? open[Math.floor(random() * open.length)] : undefined;
        if (spec.objectBytes > 0 && from) from.serveObjects(n.idx, spec.objectBytes);
        else if (spec.objectBytes > 0 && onIt.length > 0) controls.at(step + stepOf(OBJECT_RETRY_MS), { what: 'start', node: n.idx });
        else n.startServing();
        return;
      }
      case 'live':
        if (done[n.idx] === null) {
          done[n.idx] = (step * dt) / 1000;
          if (n.spec.failAt === undefined) pending--;
        }
        return;
      case 'fail':
        fail(n);
        return;
      case 'tick':
        if (!n.alive) return;
        n.tick();
        controls.at(step + stepOf(spec.policy.tickMs), { what: 'tick', node: n.idx });
        return;
    }
  };
  const deliver = (m: Msg) => {
    events++;
    const to = nodes[m.to]!;
    if (to.alive && to.peers.has(m.from)) to.receive(m);
  };

  const utilisation: number[] = [];
  const upUtilisation: number[] = [];
  const publisherUtilisation: number[] = [];
  let secBytes = 0;
  let secCap = 0;
  let secUp = 0;
  let secUpCap = 0;
  let secPub = 0;
  const stepsPerSec = Math.max(1, Math.round(1000 / dt));
  const maxStep = stepOf(spec.maxTimeMs);

  for (; step <= maxStep && (pending > 0 || step === 0); step++) {
    clock.advance(step * dt - clock.now());
    while (controls.drain(step, control) + messages.drain(step, deliver) > 0) {
      /* events scheduled for this very step run in it */
    }
    // The nodes up from the start find their peers among all of them, in random order.
    if (step === 0) for (const n of shuffled(alive, random)) meet(n);
    for (const u of alive) {
      const i = u.idx;
      upTokens[i] = Math.min(upBurst[i]!, upTokens[i]! + upBudget[i]!);
      if (!u.up.busy()) continue;
      upTokens[i] = upTokens[i]! - u.up.send(upTokens[i]!, (v, index, bytes, last) => {
        if (index >= 0) u.uploaded(v, bytes);
        if (u.role === 'publisher') secPub += bytes;
        else secUp += bytes;
        net.send(last ? Kind.LastFrame : Kind.Frame, u.idx, v, index, bytes);
      });
    }
    while (messages.drain(step, deliver) > 0) {
      /* frames on a zero-latency link arrive in the step they left */
    }
    for (const v of alive) {
      const i = v.idx;
      downTokens[i] = Math.min(downBurst[i]!, downTokens[i]! + downBudget[i]!);
      if (!v.down.busy()) continue;
      const downloading = v.sched !== undefined;
      const got = v.down.receive(downTokens[i]!, (from) => v.peers.has(from), (from, index) => v.onPiece(from, index));
      downTokens[i] = downTokens[i]! - got;
      if (downloading) secBytes += got;
    }
    for (const f of followers) {
      if (f.sched && f.alive) secCap += downBudget[f.idx]!;
      if (f.alive && f.started) secUpCap += upBudget[f.idx]!;
    }
    while (messages.drain(step, deliver) + controls.drain(step, control) > 0) {
      /* zero-latency answers to the step's transfers */
    }
    if ((step + 1) % stepsPerSec === 0) {
      utilisation.push(secCap > 0 ? secBytes / secCap : 0);
      upUtilisation.push(secUpCap > 0 ? secUp / secUpCap : 0);
      publisherUtilisation.push(spec.publisher ? secPub / (upBudget[0]! * stepsPerSec) : 0);
      secBytes = secCap = secUp = secUpCap = secPub = 0;
      spec.observe?.((step + 1) / stepsPerSec, nodes);
    }
  }

  const results: NodeResult[] = followers.map((n) => ({
    live: done[n.idx] ?? null,
    joined: n.spec.joinAt / 1000,
    failed: n.spec.failAt !== undefined,
    bytesDown: n.bytesDown,
    bytesUp: n.bytesUp,
    bytesFromPublisher: n.bytesFromPublisher,
    duplicateBytes: n.duplicateBytes,
    peers: n.peers.size,
    publisherPeer: spec.publisher !== undefined && n.peers.has(0),
  }));
  const survivors = results.filter((r) => !r.failed);
  const times = spread(survivors.map((r) => r.live));
  const boundSeconds = bound(spec);
  return {
    name: spec.name,
    policy: spec.policy.name,
    n: followers.length,
    bytesPerNode: neededBytes(spec),
    pieces: spec.pieceSizes.length,
    nodes: results,
    publisherSent: spec.publisher ? nodes[0]!.bytesUp : 0,
    ...times,
    boundSeconds,
    ratio: times.last === null || boundSeconds === 0 ? null : times.last / boundSeconds,
    utilisation,
    upUtilisation,
    publisherUtilisation,
    simulatedSeconds: (step * dt) / 1000,
    wallSeconds: (performance.now() - wall0) / 1000,
    events,
  };
}

/** Bytes the neediest follower lacks at the start: S in the bound. */
export function neededBytes(spec: SimSpec): number {
  let most = 0;
  for (const n of spec.nodes) {
    if (n.holds === 'all') continue;
    let b = 0;
    spec.pieceSizes.forEach((s, i) => {
      if (!(n.holds instanceof Uint8Array && n.holds[i])) b += s;
    });
    most = Math.max(most, b);
  }
  return most;
}

/** Kumar–Ross for the spec's sources (publisher and seeds) and receivers (followers), in seconds. */
export function bound(spec: SimSpec): number {
  const receivers = spec.nodes.filter((n) => n.holds !== 'all');
  const seeds = spec.nodes.filter((n) => n.holds === 'all');
  return kumarRoss({
    bytes: neededBytes(spec),
    receivers: receivers.length,
    sourceUpload: (spec.publisher?.up ?? 0) + seeds.reduce((a, n) => a + n.up, 0),
    minDownload: Math.min(...receivers.map((n) => n.down)),
    receiversUpload: receivers.reduce((a, n) => a + n.up, 0),
  });
}
