import type { Clock } from '../../src/core/index.js';
import {
  Choker,
  PieceScheduler,
  RateMeter,
  SuperSeeder,
  type ChokeAction,
  type OfferAction,
  type SchedulerAction,
} from '../../src/scheduler/index.js';
import { haveTiming } from '../../src/session/upload-policy.js';
import { Downlink, Uplink } from './pacing.js';
import type { NodeSpec, Policy } from './types.js';

/** Wire messages between simulated nodes (numbers: there are 10^8 of them in a large run). */
export const enum Kind {
  Have,
  Interested,
  NotInterested,
  Request,
  Cancel,
  Reject,
  /** A frame of piece data; the last frame of a piece completes it. */
  Frame,
  LastFrame,
  Choke,
  Unchoke,
  /** How many peers unchoke the sender (in `index`). */
  Unchokers,
}

export interface Msg {
  kind: Kind;
  from: number;
  to: number;
  index: number;
  /** Frames: payload bytes. */
  bytes?: number;
}

/** What a node needs of the simulated network around it. */
export interface Net {
  clock: Clock;
  random: () => number;
  pieceSizes: readonly number[];
  policy: Policy;
  /** Connections a node will have (min(maxPeers, N)): what a policy may size upload slots by. */
  expectedPeers: number;
  send(kind: Kind, from: number, to: number, index: number, bytes?: number): void;
  node(idx: number): SimNode;
  /** The follower has every piece: it goes live after the finish delay. */
  completed(node: SimNode): void;
  /** The follower has its objects: it starts asking for pieces. */
  objectsFetched(node: SimNode): void;
}

export type Role = 'publisher' | 'seed' | 'follower';

/** Peer ids as the modules know them; cached, as a message handler needs one per call. */
const keys: string[] = [];
const key = (i: number): string => (keys[i] ??= String(i));

/**
 * One node, wired the way src/session wires the real modules: a PieceScheduler while it downloads
 * (session/download.ts), one Choker for its uploads and, on the publisher, a SuperSeeder
 * (session/upload-policy.ts). Module actions become messages; messages become module events.
 */
export class SimNode {
  readonly key: string;
  readonly has: Uint8Array;
  readonly peers = new Set<number>();
  /** Peers that unchoke us. */
  readonly unchokedBy = new Set<number>();
  /** Pieces gained that a peer we choke hears of at our next tick or before its unchoke (Policy.laterHaves). */
  private readonly laterHaves = new Map<number, number[]>();
  readonly choker: Choker;
  seeder: SuperSeeder | undefined;
  sched: PieceScheduler | undefined;
  /** Started its download (or is a source): it holds a space and serves it. */
  started = false;
  complete = false;
  alive = false;
  readonly up = new Uplink();
  readonly down = new Downlink();
  /** Peers that sent piece data since the last tick (session/download.ts noteActivity). */
  private readonly active = new Set<number>();
  private readonly upMeters = new Map<number, RateMeter>();
  private readonly downMeters = new Map<number, RateMeter>();
  /** The count of peers unchoking us last reported to our peers (Policy.reportUnchokers), -1 before the first. */
  private unchokersSent = -1;
  bytesUp = 0;
  bytesDown = 0;
  bytesFromPublisher = 0;
  duplicateBytes = 0;
  stalls = 0;

  constructor(
    readonly idx: number,
    readonly role: Role,
    readonly spec: NodeSpec,
    private readonly net: Net,
  ) {
    this.key = key(idx);
    const n = net.pieceSizes.length;
    this.has = role === 'follower' && spec.holds instanceof Uint8Array ? spec.holds.slice() : new Uint8Array(n).fill(role === 'follower' ? 0 : 1);
    // The session's choker ranks as a seeder whatever the node's state (upload-policy.ts).
    this.choker = new Choker({ clock: net.clock, random: net.random, seeding: true, options: net.policy.choker(spec, net.expectedPeers, role === 'publisher') });
  }

  connect(peer: number): void {
    this.peers.add(peer);
    this.choke(this.choker.peerJoined(key(peer)));
    if (this.seeder) {
      this.seeder.peerJoined(key(peer));
      if (this.net.node(peer).started) this.offer(this.seeder.peerBitfield(key(peer), this.net.node(peer).advertisedTo(this.idx)));
    }
    this.schedJoin(peer);
    if (this.sched && this.unchokersSent >= 0) this.net.send(Kind.Unchokers, this.idx, peer, this.unchokersSent);
  }

  disconnect(peer: number): void {
    if (!this.peers.delete(peer)) return;
    this.objectClients.delete(peer);
    this.unchokedBy.delete(peer);
    this.laterHaves.delete(peer);
    this.up.forget(peer);
    this.active.delete(peer);
    if (this.sched) this.apply(this.sched.peerLeft(key(peer)));
    if (this.seeder) this.offer(this.seeder.peerLeft(key(peer)), true);
    this.choke(this.choker.peerLeft(key(peer)));
  }

  /** The publisher's release exists: it super-seeds it to every peer. */
  startPublishing(): void {
    this.started = true;
    this.seeder = new SuperSeeder({ pieceCount: this.has.length, clock: this.net.clock, random: this.net.random, options: this.net.policy.superSeeder });
    for (const p of this.peers) {
      this.seeder.peerJoined(key(p));
      if (this.net.node(p).started) this.seeder.peerBitfield(key(p), this.net.node(p).advertisedTo(this.idx));
    }
    for (const p of this.peers) if (this.choker.isUnchoked(key(p))) this.offer(this.seeder.peerUnchoked(key(p)));
  }

  /** A seed or follower sets its space: peers learn its bitfield; a follower starts its download. */
  startServing(): void {
    this.started = true;
    for (const p of this.peers) this.net.node(p).peerSpace(this.idx);
    if (this.role !== 'follower') return;
    this.sched = new PieceScheduler({
      pieceSizes: this.net.pieceSizes,
      have: indexesOf(this.has),
      clock: this.net.clock,
      random: this.net.random,
      options: this.net.policy.scheduler(this.spec),
    });
    if (this.sched.isComplete()) return this.finish();
    for (const p of this.peers) this.schedJoin(p);
  }

  /** A peer announced its space (and bitfield). */
  peerSpace(peer: number): void {
    const bits = this.net.node(peer).advertisedTo(this.idx);
    if (this.seeder) this.offer(this.seeder.peerBitfield(key(peer), bits));
    if (this.sched) this.apply(this.sched.peerBitfield(key(peer), bits));
  }

  /** What this node shows a peer: its pieces, or on the publisher only what it offered. */
  advertisedTo(peer: number): number[] {
    if (!this.started) return [];
    if (this.seeder) return this.seeder.advertisedTo(key(peer));
    return indexesOf(this.has);
  }

  tick(): void {
    if (!this.alive) return;
    if (this.net.policy.feedRates) {
      for (const p of this.peers) {
        this.choker.updateRates(key(p), { download: this.downMeters.get(p)?.rate() ?? 0, upload: this.upMeters.get(p)?.rate() ?? 0 });
      }
    }
    for (const p of this.laterHaves.keys()) this.flushHaves(p);
    this.choke(this.choker.tick());
    if (this.sched) {
      for (const p of this.active) this.sched.peerActive(key(p));
      this.active.clear();
      this.apply(this.sched.tick());
      this.reportUnchokers();
    }
    if (this.seeder) this.offer(this.seeder.tick());
  }

  receive(m: Msg): void {
    const from = m.from;
    const peer = key(from);
    switch (m.kind) {
      case Kind.Have:
        if (this.sched) this.apply(this.sched.peerHave(peer, m.index));
        if (this.seeder) this.offer(this.seeder.peerHave(peer, m.index));
        return;
      case Kind.Interested:
      case Kind.NotInterested:
        return this.choke(this.choker.peerInterested(peer, m.kind === Kind.Interested));
      case Kind.Request:
        return this.onRequest(from, m.index);
      case Kind.Cancel:
        return this.up.cancel(from, m.index);
      case Kind.Reject:
        // The publisher declines by design (super-seeding); anyone else declining is a failure.
        if (this.sched) this.apply(this.sched.pieceRejected(peer, m.index, this.net.node(from).role === 'publisher' ? undefined : 'declined'));
        return;
      case Kind.Frame:
      case Kind.LastFrame:
        return this.down.arrive(from, m.index, m.bytes ?? 0, m.kind === Kind.LastFrame);
      case Kind.Choke:
        this.unchokedBy.delete(from);
        if (this.sched) this.apply(this.sched.peerChoked(peer));
        return;
      case Kind.Unchoke:
        this.unchokedBy.add(from);
        if (this.sched) this.apply(this.sched.peerUnchoked(peer));
        return;
      case Kind.Unchokers:
        this.choker.peerUnchokers(peer, m.index);
        return;
    }
  }

  /** Bytes of a piece left this node for `peer` (the engine's bandwidth model decides how many). */
  uploaded(peer: number, bytes: number): void {
    this.bytesUp += bytes;
    if (this.net.policy.feedRates) meter(this.upMeters, peer, this.net.clock).add(bytes);
  }

  private onRequest(from: number, index: number): void {
    // bittorrent-protocol ignores requests from a peer it chokes; the choke already told it so.
    if (!this.choker.isUnchoked(key(from))) return;
    if (!this.has[index] || (this.seeder && this.seeder.onRequest(key(from), index) === 'defer')) {
      this.net.send(Kind.Reject, this.idx, from, index);
      return;
    }
    const size = this.net.pieceSizes[index]!;
    this.up.enqueue(from, { index, size, left: size });
  }

  /** Nodes this one is sending their objects to. */
  readonly objectClients = new Set<number>();

  /** Sends the peer its objects (they are answered whether it is choked or not). */
  serveObjects(peer: number, bytes: number): void {
    this.objectClients.add(peer);
    this.up.enqueue(peer, { index: -1, size: bytes, left: bytes });
  }

  /** The last frame of a piece (index -1: our objects) passed our download bucket. */
  onPiece(from: number, index: number): void {
    if (index < 0) {
      this.net.node(from).objectClients.delete(this.idx);
      return this.net.objectsFetched(this);
    }
    const size = this.net.pieceSizes[index]!;
    this.bytesDown += size;
    if (this.net.node(from).role === 'publisher') this.bytesFromPublisher += size;
    if (this.net.policy.feedRates) meter(this.downMeters, from, this.net.clock).add(size);
    this.active.add(from);
    if (this.has[index]) this.duplicateBytes += size;
    else {
      this.has[index] = 1;
      for (const p of this.peers) this.tellHave(p, index);
    }
    if (!this.sched) return;
    this.apply(this.sched.pieceReceived(key(from), index, true));
    if (this.sched.isComplete()) this.finish();
  }

  /** As session/download.ts does on its tick: the count of peers unchoking us, when it changed. */
  private reportUnchokers(): void {
    if (!this.net.policy.reportUnchokers || this.unchokedBy.size === this.unchokersSent) return;
    this.unchokersSent = this.unchokedBy.size;
    for (const p of this.peers) this.net.send(Kind.Unchokers, this.idx, p, this.unchokersSent);
  }

  private finish(): void {
    this.sched = undefined;
    this.complete = true;
    this.net.completed(this);
  }

  private schedJoin(peer: number): void {
    if (!this.sched) return;
    const p = key(peer);
    this.apply(this.sched.peerJoined(p));
    const other = this.net.node(peer);
    if (other.started) this.apply(this.sched.peerBitfield(p, other.advertisedTo(this.idx)));
    if (this.unchokedBy.has(peer)) this.apply(this.sched.peerUnchoked(p));
  }

  private apply(actions: SchedulerAction[]): void {
    for (const a of actions) {
      const to = Number(a.peer);
      switch (a.type) {
        case 'request':
          this.net.send(Kind.Request, this.idx, to, a.index);
          break;
        case 'cancel':
          this.net.send(Kind.Cancel, this.idx, to, a.index);
          break;
        case 'interested':
          this.net.send(Kind.Interested, this.idx, to, 0);
          break;
        case 'not-interested':
          this.net.send(Kind.NotInterested, this.idx, to, 0);
          break;
        case 'ban':
        case 'stalled':
          // The session bans or disconnects; here the connection is dropped on both sides.
          this.stalls++;
          this.net.node(to).disconnect(this.idx);
          this.disconnect(to);
          break;
      }
    }
  }

  /** As session/upload-policy.ts gained() (Policy.laterHaves; off: every peer at once). */
  private tellHave(p: number, index: number): void {
    const peer = this.net.node(p);
    const when = this.net.policy.laterHaves
      ? haveTiming({ publisher: peer.role === 'publisher', holds: peer.has[index] === 1, unchoked: this.choker.isUnchoked(key(p)), interested: this.choker.isInterested(key(p)) })
      : 'now';
    if (when === 'now') return this.net.send(Kind.Have, this.idx, p, index);
    if (when === 'never') return;
    const later = this.laterHaves.get(p);
    if (later) later.push(index);
    else this.laterHaves.set(p, [index]);
  }

  private flushHaves(p: number): void {
    const later = this.laterHaves.get(p);
    if (!later) return;
    this.laterHaves.delete(p);
    for (const index of later) this.net.send(Kind.Have, this.idx, p, index);
  }

  private choke(actions: ChokeAction[]): void {
    for (const a of actions) {
      const to = Number(a.peer);
      if (a.type === 'unchoke') {
        this.flushHaves(to);
        this.net.send(Kind.Unchoke, this.idx, to, 0);
        if (this.seeder) this.offer(this.seeder.peerUnchoked(a.peer));
      } else {
        // bittorrent-protocol drops the queued requests of a peer it chokes.
        this.up.dropUnstarted(to);
        this.net.send(Kind.Choke, this.idx, to, 0);
        if (this.seeder) this.offer(this.seeder.peerChoked(a.peer), true);
      }
    }
  }

  /** `afterLoss`: offers made when a peer was choked or left, which the session of 2026-11-25 drops (Policy.sendAllOffers). */
  private offer(offers: OfferAction[], afterLoss = false): void {
    if (afterLoss && !this.net.policy.sendAllOffers) return;
    for (const o of offers) this.net.send(Kind.Have, this.idx, Number(o.peer), o.index);
  }
}

function meter(m: Map<number, RateMeter>, peer: number, clock: Clock): RateMeter {
  let r = m.get(peer);
  if (!r) {
    r = new RateMeter(clock);
    m.set(peer, r);
  }
  return r;
}

function indexesOf(bits: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bits.length; i++) if (bits[i]) out.push(i);
  return out;
}
