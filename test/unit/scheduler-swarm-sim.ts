/**
 * A discrete-time swarm for the scheduler tests: one publisher and N frontends, fully meshed,
 * each running the real PieceScheduler / SuperSeeder / Choker. Per tick every node uploads at most
 * `uploadPerTick` bytes, FIFO over the requests it accepted; download is unlimited. Messages are
 * delivered in order and only between nodes that obey the wire rules: a choked requester's
 * requests are dropped, a cancel removes only a piece not yet started, a node can only send a
 * piece it holds (anything else throws: that would be a scheduler bug, not a slow swarm).
 */
import { ManualClock } from '../../src/core/index.js';
import { Choker, PieceScheduler, RateMeter, SuperSeeder, seededRandom, type Action } from '../../src/scheduler/index.js';

export interface SimConfig {
  seed: number;
  pieceSizes: number[];
  leechers: number;
  uploadPerTick: number;
  tickMs: number;
  maxTicks: number;
  /** false: the publisher announces a full bitfield and serves every request (plain seeding). */
  superSeed: boolean;
}

export interface SimResult {
  ticks: number;
  complete: boolean;
  contentBytes: number;
  /** Bytes each node put on the wire, publisher first. */
  uploaded: Record<string, number>;
}

type Msg =
  | { kind: 'have' | 'request' | 'cancel' | 'reject' | 'piece'; from: string; to: string; index: number }
  | { kind: 'interest'; from: string; to: string; interested: boolean }
  | { kind: 'choke' | 'unchoke'; from: string; to: string };

interface Job { to: string; index: number; left: number }

interface Node {
  id: string;
  has: Uint8Array;
  sched?: PieceScheduler;
  seeder?: SuperSeeder;
  choker: Choker;
  queue: Job[];
  down: Map<string, RateMeter>;
  up: Map<string, RateMeter>;
  uploaded: number;
}

export function runSwarm(cfg: SimConfig): SimResult {
  const clock = new ManualClock();
  const random = seededRandom(cfg.seed);
  const n = cfg.pieceSizes.length;
  const size = (i: number) => cfg.pieceSizes[i] ?? 0;
  const ids = ['S', ...Array.from({ length: cfg.leechers }, (_, k) => `L${k + 1}`)];
  const nodes = new Map<string, Node>();
  for (const id of ids) {
    const publisher = id === 'S';
    nodes.set(id, {
      id,
      has: new Uint8Array(n).fill(publisher ? 1 : 0),
      sched: publisher ? undefined : new PieceScheduler({ pieceSizes: cfg.pieceSizes, clock, random }),
      seeder: publisher && cfg.superSeed ? new SuperSeeder({ pieceCount: n, clock, random }) : undefined,
      choker: new Choker({ clock, random, seeding: publisher }),
      queue: [],
      down: new Map(),
      up: new Map(),
      uploaded: 0,
    });
  }
  const node = (id: string): Node => nodes.get(id) ?? fail(`no node ${id}`);
  const inbox: Msg[] = [];

  const act = (from: Node, actions: Action[]) => {
    for (const a of actions) {
      switch (a.type) {
        case 'request':
        case 'cancel':
        case 'have':
          inbox.push({ kind: a.type, from: from.id, to: a.peer, index: a.index });
          break;
        case 'interested':
        case 'not-interested':
          inbox.push({ kind: 'interest', from: from.id, to: a.peer, interested: a.type === 'interested' });
          break;
        case 'choke':
          from.queue = from.queue.filter((j) => j.to !== a.peer);
          inbox.push({ kind: 'choke', from: from.id, to: a.peer });
          if (from.seeder) act(from, from.seeder.peerChoked(a.peer));
          break;
        case 'unchoke':
          inbox.push({ kind: 'unchoke', from: from.id, to: a.peer });
          if (from.seeder) act(from, from.seeder.peerUnchoked(a.peer));
          break;
        case 'ban':
          fail(`${from.id} banned ${a.peer}: ${a.reason}`);
      }
    }
  };

  const deliver = (m: Msg) => {
    const to = node(m.to);
    switch (m.kind) {
      case 'have':
        if (to.sched) act(to, to.sched.peerHave(m.from, m.index));
        if (to.seeder) act(to, to.seeder.peerHave(m.from, m.index));
        return;
      case 'interest':
        return act(to, to.choker.peerInterested(m.from, m.interested));
      case 'choke':
        return act(to, to.sched?.peerChoked(m.from) ?? []);
      case 'unchoke':
        return act(to, to.sched?.peerUnchoked(m.from) ?? []);
      case 'reject':
        return act(to, to.sched?.pieceRejected(m.from, m.index) ?? []);
      case 'cancel':
        to.queue = to.queue.filter((j) => !(j.to === m.from && j.index === m.index && j.left === size(j.index)));
        return;
      case 'request':
        if (!to.has[m.index]) fail(`${m.from} asked ${m.to} for piece ${m.index}, which it never announced`);
        if (!to.choker.isUnchoked(m.from)) return;
        if (to.seeder?.onRequest(m.from, m.index) === 'defer') inbox.push({ kind: 'reject', from: to.id, to: m.from, index: m.index });
        else to.queue.push({ to: m.from, index: m.index, left: size(m.index) });
        return;
      case 'piece': {
        const sched = to.sched ?? fail(`publisher was sent piece ${m.index}`);
        to.down.get(m.from)?.add(size(m.index));
        const fresh = !to.has[m.index];
        to.has[m.index] = 1;
        act(to, sched.pieceReceived(m.from, m.index, true));
        if (!fresh) return;
        for (const other of ids) if (other !== to.id) inbox.push({ kind: 'have', from: to.id, to: other, index: m.index });
        if (sched.isComplete()) act(to, to.choker.setSeeding(true));
      }
    }
  };

  const drain = () => {
    for (let handled = 0; inbox.length > 0; handled++) {
      if (handled > 1_000_000) fail('message storm: the schedulers keep answering each other');
      deliver(inbox.shift() as Msg);
    }
  };

  // Full mesh: everyone joins everyone before the first message is read.
  for (const a of nodes.values()) {
    for (const b of ids) {
      if (b === a.id) continue;
      a.sched?.peerJoined(b);
      a.seeder?.peerJoined(b);
      a.choker.peerJoined(b);
      a.down.set(b, new RateMeter(clock));
      a.up.set(b, new RateMeter(clock));
    }
  }
  const all = [...Array(n).keys()];
  for (const a of nodes.values()) {
    for (const b of ids) {
      if (b === a.id) continue;
      const theirs = b === 'S' && !cfg.superSeed ? all : [];
      if (a.sched) act(a, a.sched.peerBitfield(b, theirs));
      if (a.seeder) act(a, a.seeder.peerBitfield(b, []));
    }
  }
  drain();

  const leechers = [...nodes.values()].filter((x) => x.sched);
  let ticks = 0;
  while (ticks < cfg.maxTicks && !leechers.every((x) => x.sched?.isComplete())) {
    ticks++;
    clock.advance(cfg.tickMs);
    for (const x of nodes.values()) {
      for (const p of ids) if (p !== x.id) x.choker.updateRates(p, { download: x.down.get(p)?.rate() ?? 0, upload: x.up.get(p)?.rate() ?? 0 });
      act(x, x.choker.tick());
      if (x.sched) act(x, x.sched.tick());
      if (x.seeder) act(x, x.seeder.tick());
    }
    drain();
    for (const x of nodes.values()) {
      let budget = cfg.uploadPerTick;
      while (budget > 0 && x.queue.length > 0) {
        const job = x.queue[0] as Job;
        const sent = Math.min(budget, job.left);
        job.left -= sent;
        budget -= sent;
        x.uploaded += sent;
        x.up.get(job.to)?.add(sent);
        if (job.left > 0) break;
        x.queue.shift();
        inbox.push({ kind: 'piece', from: x.id, to: job.to, index: job.index });
      }
    }
    drain();
  }
  return {
    ticks,
    complete: leechers.every((x) => x.sched?.isComplete()),
    contentBytes: cfg.pieceSizes.reduce((a, b) => a + b, 0),
    uploaded: Object.fromEntries([...nodes.values()].map((x) => [x.id, x.uploaded])),
  };
}

function fail(why: string): never {
  throw new Error(why);
}
