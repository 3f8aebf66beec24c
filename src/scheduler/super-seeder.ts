import { ChunkswarmError, type Clock } from '../core/index.js';
import { Availability } from './availability.js';
import { isPieceIndex, piecesOf } from './bitfield.js';
import { KeyedPool } from './keyed-pool.js';
import { LowestPick } from './random.js';
import type { OfferAction, PeerId, PieceSet } from './types.js';

export interface SuperSeederOptions {
  /** Offers a peer may hold open (advertised to it, not yet held by it), at least. */
  offersPerPeer: number;
  /**
   * Open offers spread over the unchoked peers: a peer holds max(offersPerPeer, budget / unchoked).
   * Few peers then each get a deep pipeline (one fast follower is not held to round trips), many
   * peers get a couple each, which keeps what each is offered distinct.
   */
  offerBudget: number;
  /** Copies among peers from which a piece is theirs to spread, no longer the seeder's. */
  copiesBeforeDefer: number;
  /** An offer not taken up this long stops reserving its piece (the `have` itself stays). */
  offerTimeoutMs: number;
  /** A peer that gained no piece for this long is starving: offered and served anything it lacks. */
  starveMs: number;
  /**
   * Once every piece is held or reserved, an unchoked peer with room in its window is offered
   * pieces nobody holds yet that fewer than this many peers have reserved; the first of them to
   * ask takes the piece and the other reservations end (1: no second reservation). Otherwise the
   * publisher's last pieces wait on the few peers whose windows hold them, each taking one piece
   * per round trip, while its other unchoked peers have nothing to ask it for and its link idles.
   */
  tailReservations: number;
}

export const DEFAULT_SUPER_SEEDER_OPTIONS: Readonly<SuperSeederOptions> = {
  offersPerPeer: 2,
  offerBudget: 2,
  copiesBeforeDefer: 1,
  offerTimeoutMs: 30_000,
  starveMs: 10_000,
  tailReservations: 2,
};

export type ServeDecision = 'serve' | 'defer';

/**
 * The publisher's side of BEP-16 super-seeding. Its egress is the scarce resource: every frontend
 * could fetch every chunk from it, which costs one copy per frontend. Instead it announces no
 * bitfield and offers each peer, by `have`, a few pieces that nobody has and nobody else was
 * offered, lowest availability first; the peers then trade those among themselves. A peer gets a
 * new offer once it holds one of its open offers, so the publisher feeds each piece out about once
 * and its pace follows how fast peers take them.
 *
 * Only a peer the publisher has unchoked can take an offer up, so only those hold reserving
 * offers; the session reports the publisher's own choke decisions (peerUnchoked / peerChoked).
 * A choked peer is still offered one piece, without reserving it, so that it is interested and
 * the choker can pick it; a choke releases the peer's reservations at once.
 *
 * The tail: once every piece is held or reserved, the unchoked peers with room in their windows
 * are offered second reservations of the pieces nobody holds yet, and the first to ask takes each.
 *
 * Starvation guards: an offer not taken up within `offerTimeoutMs` (peer slow or stuck) stops
 * reserving the piece, so it can be offered elsewhere; a peer that has gained nothing for
 * `starveMs` is offered, and served, whatever it lacks; a piece no peer holds is always served.
 */
export class SuperSeeder {
  private readonly opts: SuperSeederOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly avail: Availability;
  /** Per piece, how many peers hold an open offer for it. */
  private readonly pending: Uint32Array;
  /** Pieces with fewer than `copiesBeforeDefer` copies held or promised, keyed by that count: what may be offered. */
  private readonly scarce: KeyedPool;
  /** Pieces nobody holds yet, reserved by 1 .. tailReservations - 1 peers, keyed by reservations - 1: the tail's offers. */
  private readonly tail: KeyedPool;
  /** Per piece, 1 once it is served on a reservation, which is then its only one: on its way, not offered again. */
  private readonly served: Uint8Array;
  /** Per peer, its open (reserving) offers: index -> time offered. */
  private readonly open = new Map<PeerId, Map<number, number>>();
  /** Peers the publisher's choker has unchoked. */
  private readonly unchoked = new Set<PeerId>();
  /** Per peer, every piece ever advertised to it (a `have` cannot be taken back). */
  private readonly advertised = new Map<PeerId, Set<number>>();
  private readonly lastGain = new Map<PeerId, number>();
  /**
   * Per piece, 1 while peers' claims to hold it are not believed: it holds content that no earlier
   * release had, so nobody can hold it before the publisher sent it once. A member that claims
   * every piece and serves none (a lying bitfield, a staller) otherwise made every piece look held:
   * nothing was offered, every request deferred to it, and the rollout stood still until each
   * follower counted as starving (10 s in the fault suite's malicious-peer test).
   */
  private readonly unproven: Uint8Array | null;
  /** Pieces still unproven: each is rarer than any held piece. */
  private unprovenLeft = 0;

  /** `newContent`: per piece, 1 if it holds content new in this release (see unproven); without it every claim is believed. */
  constructor(init: { pieceCount: number; clock: Clock; random: () => number; options?: Partial<SuperSeederOptions>; newContent?: Uint8Array }) {
    this.opts = { ...DEFAULT_SUPER_SEEDER_OPTIONS, ...init.options };
    // Without a budget of its own, the floor is the window: offersPerPeer each, as configured.
    if (init.options?.offerBudget === undefined) this.opts.offerBudget = this.opts.offersPerPeer;
    for (const [k, v] of Object.entries(this.opts)) {
      if (!(v > 0)) throw ChunkswarmError.config(`superSeed.${k}`, `must be above 0, got ${v}`);
    }
    this.clock = init.clock;
    this.random = init.random;
    this.avail = new Availability(init.pieceCount);
    this.pending = new Uint32Array(init.pieceCount);
    this.served = new Uint8Array(init.pieceCount);
    this.unproven = init.newContent ? Uint8Array.from(init.newContent.subarray(0, init.pieceCount)) : null;
    for (const u of this.unproven ?? []) this.unprovenLeft += u ? 1 : 0;
    this.scarce = new KeyedPool(init.pieceCount, Math.ceil(this.opts.copiesBeforeDefer));
    this.tail = new KeyedPool(init.pieceCount, Math.max(1, this.opts.tailReservations - 1));
    for (let i = 0; i < init.pieceCount; i++) this.refresh(i);
  }

  /** Offers wait for the peer's bitfield (or the next tick): it may already hold what we would offer. */
  peerJoined(peer: PeerId): void {
    if (this.avail.hasPeer(peer)) return;
    this.avail.addPeer(peer);
    this.open.set(peer, new Map());
    this.advertised.set(peer, new Set());
    this.lastGain.set(peer, this.clock.now());
  }

  /** Its open offers and the copies it held are gone: they may be offered to others now. */
  peerLeft(peer: PeerId): OfferAction[] {
    if (!this.avail.hasPeer(peer)) return [];
    this.release(peer);
    for (const i of this.avail.removePeer(peer)) this.refresh(i);
    this.open.delete(peer);
    this.unchoked.delete(peer);
    this.advertised.delete(peer);
    this.lastGain.delete(peer);
    return this.offerAll();
  }

  /** The publisher unchoked the peer: what it was told of and still lacks becomes its reservation. */
  peerUnchoked(peer: PeerId): OfferAction[] {
    const offers = this.open.get(peer);
    if (!offers || this.unchoked.has(peer)) return [];
    this.unchoked.add(peer);
    for (const i of this.advertised.get(peer) ?? []) {
      if (offers.size < this.window() && this.scarce.has(i) && !this.avail.has(peer, i)) this.reserve(peer, i);
    }
    return this.offer(peer);
  }

  /** The publisher choked the peer: its reservations go to peers that can take them up. */
  peerChoked(peer: PeerId): OfferAction[] {
    if (!this.unchoked.delete(peer)) return [];
    this.release(peer);
    return this.offerAll();
  }

  peerBitfield(peer: PeerId, pieces: PieceSet): OfferAction[] {
    if (!this.avail.hasPeer(peer)) return [];
    const now = new Set(piecesOf(pieces, this.avail.pieceCount).pieces);
    // A bitfield replaces what the peer said before: a piece it lost (found damaged on its disk)
    // is scarce again and may be offered to it again.
    const bits = this.avail.bitsOf(peer);
    for (let i = 0; bits && i < bits.length; i++) {
      if (!bits[i] || now.has(i)) continue;
      this.avail.remove(peer, i);
      this.advertised.get(peer)?.delete(i);
      this.refresh(i);
    }
    for (const i of now) this.gain(peer, i);
    return this.offer(peer);
  }

  peerHave(peer: PeerId, index: number): OfferAction[] {
    if (!this.avail.hasPeer(peer) || !isPieceIndex(index, this.avail.pieceCount)) return [];
    this.gain(peer, index);
    return this.offer(peer);
  }

  /**
   * Whether to upload a requested piece now. Deferring a piece that peers already hold (or that
   * is reserved for another peer, whose copy is on its way) keeps the publisher's egress for
   * pieces only it can give; the requester gets it from those peers. Never deferred: a piece
   * reserved for the requester, one nobody else holds or is getting, or a starving requester.
   */
  onRequest(peer: PeerId, index: number): ServeDecision {
    if (!isPieceIndex(index, this.avail.pieceCount)) return 'defer';
    const mine = this.open.get(peer)?.has(index) ?? false;
    if (mine) {
      // A tail piece goes to the first of its reservations to ask: one copy leaves the publisher.
      if ((this.pending[index] ?? 0) > 1) this.closeOthers(peer, index);
      this.served[index] = 1;
      this.refresh(index);
      return this.serve(index);
    }
    if (this.starving(peer)) return this.serve(index);
    // The copies that count, the requester's own aside.
    const held = this.unproven?.[index] ? 0 : this.avail.count(index) - (this.avail.has(peer, index) ? 1 : 0);
    if (held + (this.pending[index] ?? 0) < this.opts.copiesBeforeDefer) return this.serve(index);
    if (held === 0) return 'defer';
    return this.unprovenLeft > 0 || this.avail.anyRarerThan(held) ? 'defer' : this.serve(index);
  }

  /** The piece leaves the publisher: from now on a peer's claim to hold it may be true. */
  private serve(index: number): ServeDecision {
    if (this.unproven?.[index]) {
      this.unproven[index] = 0;
      this.unprovenLeft--;
      this.refresh(index);
    }
    return 'serve';
  }

  /** The copies of a piece that count: none while claims of it are not believed (unproven). */
  private copies(index: number): number {
    return this.unproven?.[index] ? 0 : this.avail.count(index);
  }

  /**
   * The publisher could not read a piece the peer asked for (declined): an open offer of it to
   * that peer stops reserving it, so that another peer is offered it at once (and its request
   * reads it again) instead of every other peer waiting for the starvation rule.
   */
  withdraw(peer: PeerId, index: number): OfferAction[] {
    if (!this.open.get(peer)?.has(index)) return [];
    this.close(peer, index);
    return this.offerAll();
  }

  /** Expires stale offers, then tops up every peer (starving ones from all they lack). */
  tick(): OfferAction[] {
    const now = this.clock.now();
    for (const [peer, offers] of this.open) {
      for (const [i, at] of [...offers]) if (now - at >= this.opts.offerTimeoutMs) this.close(peer, i);
    }
    return this.offerAll();
  }

  /** Everything advertised to the peer so far, in offer order. */
  advertisedTo(peer: PeerId): number[] {
    return [...(this.advertised.get(peer) ?? [])];
  }

  private offerAll(): OfferAction[] {
    return [...this.avail.peers()].flatMap((p) => this.offer(p));
  }

  private offer(peer: PeerId): OfferAction[] {
    const offers = this.open.get(peer);
    const told = this.advertised.get(peer);
    if (!offers || !told) return [];
    const fresh = (i: number) => !told.has(i) && !this.avail.has(peer, i);
    const pickNew = () => {
      const i = this.starving(peer) ? this.pickAny(fresh) : this.pickOffer(peer, fresh);
      if (i !== undefined) told.add(i);
      return i;
    };
    if (!this.unchoked.has(peer)) {
      for (const i of told) if (!this.avail.has(peer, i)) return [];
      const i = pickNew();
      return i === undefined ? [] : [{ type: 'have', peer, index: i }];
    }
    const out: OfferAction[] = [];
    const window = this.window();
    while (offers.size < window) {
      const i = pickNew();
      if (i === undefined) break;
      this.reserve(peer, i);
      out.push({ type: 'have', peer, index: i });
    }
    return out;
  }

  /** A piece nobody holds or was promised; for an unchoked peer, else a tail piece (tailReservations). */
  private pickOffer(peer: PeerId, fresh: (i: number) => boolean): number | undefined {
    return this.scarce.pick(this.random, fresh) ?? (this.unchoked.has(peer) ? this.tail.pick(this.random, fresh) : undefined);
  }

  /** A starving peer's pick: the least held or promised of all pieces (a full scan, as starving is rare). */
  private pickAny(fresh: (i: number) => boolean): number | undefined {
    const pick = new LowestPick(this.random);
    for (let i = 0; i < this.avail.pieceCount; i++) if (fresh(i)) pick.offer(i, this.copies(i) + (this.pending[i] ?? 0));
    return pick.index;
  }

  private window(): number {
    return Math.max(this.opts.offersPerPeer, Math.floor(this.opts.offerBudget / Math.max(1, this.unchoked.size)));
  }

  private reserve(peer: PeerId, index: number): void {
    this.open.get(peer)?.set(index, this.clock.now());
    this.pending[index] = (this.pending[index] ?? 0) + 1;
    this.refresh(index);
  }

  private release(peer: PeerId): void {
    for (const i of [...(this.open.get(peer)?.keys() ?? [])]) this.close(peer, i);
  }

  private gain(peer: PeerId, index: number): void {
    if (!this.avail.add(peer, index)) return;
    this.lastGain.set(peer, this.clock.now());
    this.close(peer, index);
    // Its other reservations (a tail piece's second) end: those peers can get it from this one.
    if ((this.pending[index] ?? 0) > 0) this.closeOthers(peer, index);
    this.refresh(index);
  }

  private closeOthers(peer: PeerId, index: number): void {
    for (const [p, offers] of this.open) if (p !== peer && offers.has(index)) this.close(p, index);
  }

  private close(peer: PeerId, index: number): void {
    if (!this.open.get(peer)?.delete(index)) return;
    this.pending[index] = (this.pending[index] ?? 1) - 1;
    this.served[index] = 0;
    this.refresh(index);
  }

  private refresh(index: number): void {
    const held = this.copies(index);
    const p = this.pending[index] ?? 0;
    this.scarce.set(index, held + p < this.opts.copiesBeforeDefer ? held + p : null);
    this.tail.set(index, held === 0 && !this.served[index] && p >= 1 && p < this.opts.tailReservations ? p - 1 : null);
  }

  private starving(peer: PeerId): boolean {
    const since = this.lastGain.get(peer);
    if (since === undefined || this.avail.heldBy(peer) >= this.avail.pieceCount) return false;
    return this.clock.now() - since >= this.opts.starveMs;
  }
}
