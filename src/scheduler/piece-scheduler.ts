import { ChunkswarmError, type Clock } from '../core/index.js';
import { Availability } from './availability.js';
import { isPieceIndex, piecesOf, toBitfield } from './bitfield.js';
import { PeerLink } from './peer-link.js';
import { inEndGame, pickDuplicate, pickFresh, type PickerView } from './piece-picker.js';
import { checkSchedulerOptions, DEFAULT_SCHEDULER_OPTIONS, type SchedulerOptions } from './options.js';
import type { DownloadProgress, DownloadWaiting, PeerDownloadStats, PeerId, PieceSet, RequestFailure, SchedulerAction } from './types.js';

export interface PieceSchedulerInit {
  /** Size in bytes of each piece (the release's unique chunks, in canonical order). */
  pieceSizes: readonly number[];
  /** Pieces already held locally (e.g. chunks of an earlier release). */
  have?: PieceSet;
  clock: Clock;
  random: () => number;
  options?: Partial<SchedulerOptions>;
}

/**
 * Decides which piece to ask of which peer. Events come in from the session; each returns the
 * wire actions it makes necessary (requests to fill pipelines, cancels, interest changes, bans).
 */
export class PieceScheduler {
  private readonly sizes: readonly number[];
  private readonly opts: SchedulerOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly meanPieceBytes: number;
  private readonly have: Uint8Array;
  private haveCount = 0;
  private bytesHave = 0;
  private readonly bytesTotal: number;
  private readonly avail: Availability;
  private readonly links = new Map<PeerId, PeerLink>();
  private readonly banned = new Set<PeerId>();
  private readonly wanted = new Set<number>();
  private readonly requested = new Map<number, Set<PeerId>>();
  private readonly avoid = new Map<number, Set<PeerId>>();
  /** Per piece, how many peers that unchoke us hold it: the sources we can ask right now. */
  private readonly sources: Uint32Array;
  private joined = 0;
  /** Bytes of every request in flight, duplicates included (see SchedulerOptions.maxInflightBytes). */
  private inflightBytes = 0;

  constructor(init: PieceSchedulerInit) {
    this.opts = checkSchedulerOptions({ ...DEFAULT_SCHEDULER_OPTIONS, ...init.options });
    this.sizes = init.pieceSizes;
    this.sizes.forEach((s, i) => {
      if (!Number.isInteger(s) || s <= 0) throw ChunkswarmError.badObject(`piece ${i} has size ${s}; pieces are 1 byte or more`);
    });
    this.clock = init.clock;
    this.random = init.random;
    const n = this.sizes.length;
    this.bytesTotal = this.sizes.reduce((a, b) => a + b, 0);
    this.meanPieceBytes = n > 0 ? this.bytesTotal / n : 1;
    this.have = new Uint8Array(n);
    this.avail = new Availability(n);
    this.sources = new Uint32Array(n);
    const { pieces, bad } = piecesOf(init.have ?? [], n);
    if (bad !== undefined) throw ChunkswarmError.badObject(`held piece ${bad} is outside 0..${n - 1}`);
    for (const i of pieces) this.markHave(i);
    for (let i = 0; i < n; i++) if (!this.have[i]) this.wanted.add(i);
  }

  peerJoined(peer: PeerId): SchedulerAction[] {
    if (this.banned.has(peer)) return [{ type: 'ban', peer, reason: 'peer was banned earlier in this download' }];
    if (!this.links.has(peer)) {
      this.links.set(peer, new PeerLink(peer, this.joined++));
      this.avail.addPeer(peer);
    }
    return [];
  }

  peerLeft(peer: PeerId): SchedulerAction[] {
    this.drop(peer);
    return this.fill();
  }

  peerBitfield(peer: PeerId, pieces: PieceSet): SchedulerAction[] {
    const link = this.links.get(peer);
    if (!link) return [];
    const parsed = piecesOf(pieces, this.sizes.length);
    if (parsed.bad !== undefined) return [this.ban(peer, `announced piece ${parsed.bad}, outside 0..${this.sizes.length - 1}`), ...this.fill()];
    // A bitfield replaces what the peer said before: a node that found a piece damaged on its disk lost it.
    const now = new Set(parsed.pieces);
    const bits = this.avail.bitsOf(peer);
    for (let i = 0; bits && i < bits.length; i++) if (bits[i] && !now.has(i) && this.avail.remove(peer, i) && !this.have[i]) link.useful--;
    for (const i of now) this.learn(link, i);
    return [...this.interest(link), ...this.fill([link])];
  }

  peerHave(peer: PeerId, index: number): SchedulerAction[] {
    const link = this.links.get(peer);
    if (!link) return [];
    if (!isPieceIndex(index, this.sizes.length)) return [this.ban(peer, `announced piece ${index}, outside 0..${this.sizes.length - 1}`), ...this.fill()];
    if (link.refused.size > 0) link.refused.delete(index);
    // The hot path of a large swarm (every peer announces every piece): a piece we hold, or one
    // we knew the peer had, changes no interest and no request.
    if (!this.learn(link, index)) return [];
    const out = this.interest(link);
    for (const a of this.fill([link])) out.push(a);
    return out;
  }

  /** The peer sent piece data (even too late to use): it is congested, not stalling. */
  peerActive(peer: PeerId): void {
    this.links.get(peer)?.recordActivity();
  }

  /** A choke discards the peer's queue on its side, so our requests there are re-queued. */
  peerChoked(peer: PeerId): SchedulerAction[] {
    const link = this.links.get(peer);
    if (!link) return [];
    if (!link.choked) this.countSources(link, -1);
    link.choked = true;
    for (const i of [...link.inflight.keys()]) this.unrequest(link, i);
    return this.fill();
  }

  peerUnchoked(peer: PeerId): SchedulerAction[] {
    const link = this.links.get(peer);
    if (!link) return [];
    if (link.choked) this.countSources(link, +1);
    link.choked = false;
    return this.fill([link]);
  }

  /**
   * A request failed (e.g. a super-seeder deferring): ask someone else. `failure` says it was the
   * peer's doing (it declined, or never answered); those count towards giving up on the peer.
   */
  pieceRejected(peer: PeerId, index: number, failure?: RequestFailure): SchedulerAction[] {
    const link = this.links.get(peer);
    if (!link || !link.inflight.has(index)) return [];
    const now = this.clock.now();
    link.refused.set(index, now);
    this.unrequest(link, index, true);
    if (failure) link.recordFailure(failure, now);
    return [...this.judge(link), ...this.fill()];
  }

  /**
   * The peer's answer was right, but this node could not use it (a chunk it was to supply itself
   * changed meanwhile): the piece is wanted again at once, of any peer, this one included.
   */
  pieceUnusable(peer: PeerId, index: number): SchedulerAction[] {
    const link = this.links.get(peer);
    if (!link || !link.inflight.has(index)) return [];
    this.unrequest(link, index);
    return this.fill();
  }

  /**
   * A whole piece arrived and was hashed. A bad piece bans the peer at once: peers are
   * authenticated members of the cluster and re-hash every chunk they serve, so a mismatch means
   * a broken or hostile node, not bad luck; its pieces are then fetched from the others.
   */
  pieceReceived(peer: PeerId, index: number, ok: boolean): SchedulerAction[] {
    const out: SchedulerAction[] = [];
    const freed: Array<PeerLink | undefined> = [];
    if (!isPieceIndex(index, this.sizes.length)) return [this.ban(peer, `sent piece ${index}, outside 0..${this.sizes.length - 1}`), ...this.fill()];
    if (!ok) return [this.ban(peer, `sent piece ${index} with a wrong hash`), ...this.fill()];
    const size = this.sizes[index] ?? 0;
    const link = this.links.get(peer);
    if (link) {
      const at = link.inflight.get(index);
      if (at !== undefined) link.recordArrival(at, this.clock.now(), size);
      link.bytesReceived += size;
      link.piecesReceived++;
      link.recordActivity();
      if (at !== undefined) this.unrequest(link, index);
    }
    if (!this.have[index]) {
      for (const other of this.requested.get(index) ?? []) {
        const l = this.links.get(other);
        if (l) this.forget(l, index);
        freed.push(l);
        out.push({ type: 'cancel', peer: other, index });
      }
      this.requested.delete(index);
      this.wanted.delete(index);
      this.avoid.delete(index);
      this.markHave(index);
      for (const l of this.links.values()) if (this.avail.has(l.id, index)) out.push(...this.interest(l));
    }
    return [...out, ...this.fill([link, ...freed, ...this.idleLinks()])];
  }

  /** Gives up requests older than the timeout; the slow peer's pipeline shrinks. */
  tick(): SchedulerAction[] {
    const now = this.clock.now();
    const out: SchedulerAction[] = [];
    for (const link of this.links.values()) {
      const expired = [...link.inflight].filter(([, at]) => now - at >= this.opts.requestTimeoutMs);
      const [first] = expired;
      // Requests queued together expire together: one slowdown, so the pipeline shrinks once.
      if (first) link.recordTimeout(this.sizes[first[0]] ?? 0, now - first[1]);
      for (const [i] of expired) {
        this.unrequest(link, i, true);
        link.recordFailure('timeout', now);
        out.push({ type: 'cancel', peer: link.id, index: i });
      }
    }
    for (const link of [...this.links.values()]) out.push(...this.judge(link));
    return [...out, ...this.fill()];
  }

  /** Requests that fit the pipelines now; the events already return these. */
  nextActions(): SchedulerAction[] {
    return this.fill();
  }

  isComplete(): boolean {
    return this.haveCount === this.sizes.length;
  }

  isEndGame(): boolean {
    return inEndGame(this.view(), this.sizes.length - this.haveCount);
  }

  progress(): DownloadProgress {
    return { have: this.haveCount, total: this.sizes.length, bytesHave: this.bytesHave, bytesTotal: this.bytesTotal };
  }

  /** Missing pieces that no connected peer holds: the download cannot finish without new peers. */
  missingUnavailable(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.sizes.length; i++) if (!this.have[i] && this.avail.count(i) === 0) out.push(i);
    return out;
  }

  /** What the missing pieces wait for: a stalled download names its cause (a choke, a refusal, no holder). */
  waiting(): DownloadWaiting {
    const out: DownloadWaiting = { missing: 0, requested: 0, unavailable: 0, choked: 0, refused: 0, queued: 0 };
    const now = this.clock.now();
    const links = [...this.links.values()];
    const refusedBy = (l: PeerLink, index: number) => now - (l.refused.get(index) ?? -Infinity) < this.opts.requestTimeoutMs;
    for (let index = 0; index < this.sizes.length; index++) {
      if (this.have[index]) continue;
      out.missing++;
      if (this.requested.has(index)) out.requested++;
      else if (this.avail.count(index) === 0) out.unavailable++;
      else if (this.sources[index] === 0) out.choked++;
      else if (links.every((l) => l.choked || !this.avail.has(l.id, index) || refusedBy(l, index))) out.refused++;
      else out.queued++;
    }
    return out;
  }

  peerStats(peer: PeerId): PeerDownloadStats | undefined {
    const l = this.links.get(peer);
    if (!l) return undefined;
    return {
      bytesReceived: l.bytesReceived,
      piecesReceived: l.piecesReceived,
      inFlight: l.inflight.size,
      throughput: l.rate ?? 0,
      pipelineDepth: l.depth(this.opts, this.meanPieceBytes),
      choked: l.choked,
      interested: l.interested,
    };
  }

  /** Our own bitfield, for the session to announce. */
  haveBitfield(): Uint8Array {
    return toBitfield(this.sizes.length, (i) => this.have[i] === 1);
  }

  /**
   * Fills the pipelines of `only` (default: every peer), fastest peer first so that rare pieces
   * go where they arrive soonest. Most events can only change one peer's options, and a full scan
   * for every peer on every `have` would be quadratic in the piece count. End-game concerns
   * every peer, and a pass that takes the last fresh piece can start it: hence the second pass.
   */
  private fill(only?: Array<PeerLink | undefined>): SchedulerAction[] {
    const out: SchedulerAction[] = [];
    const all = only === undefined || this.isEndGame();
    const chosen = all ? [...this.links.values()] : only.length === 1 ? (only as PeerLink[]) : [...new Set(only)].filter((l): l is PeerLink => l !== undefined);
    const ready = chosen.filter((l) => l !== undefined && !l.choked && !l.stalled && l.useful > 0);
    if (ready.length > 1) ready.sort((a, b) => (b.rate ?? 0) - (a.rate ?? 0) || a.order - b.order);
    for (const link of ready) this.fillOne(link, out);
    if (!all && out.length > 0 && this.isEndGame()) return [...out, ...this.fill()];
    return out;
  }

  private fillOne(link: PeerLink, out: SchedulerAction[]): void {
    const depth = link.depth(this.opts, this.meanPieceBytes);
    while (link.inflight.size < depth) {
      if (this.inflightBytes >= this.opts.maxInflightBytes) {
        // A peer's first requests may go over the cap, but not past twice it: a slow node that
        // many peers unchoke at once would queue more than its link can take within a request
        // timeout, and time out (bench/sim: 20 % of nodes at a quarter rate, N=100).
        if (link.inflight.size >= this.opts.minRequestsPerPeer || this.inflightBytes >= 2 * this.opts.maxInflightBytes) return;
      }
      const v = this.view();
      let i = pickFresh(v, link);
      if (i === undefined && inEndGame(v, this.sizes.length - this.haveCount)) i = pickDuplicate(v, link);
      if (i === undefined) return;
      link.inflight.set(i, v.now);
      this.inflightBytes += this.sizes[i] ?? 0;
      this.wanted.delete(i);
      const askedOf = this.requested.get(i) ?? new Set<PeerId>();
      askedOf.add(link.id);
      this.requested.set(i, askedOf);
      out.push({ type: 'request', peer: link.id, index: i });
    }
  }

  private view(): PickerView {
    const { avail, links, wanted, requested, avoid, sources, opts, random, meanPieceBytes } = this;
    return { avail, links, wanted, requested, avoid, sources, opts, random, meanPieceBytes, now: this.clock.now() };
  }

  /** Records that the peer holds the piece; true if that is a piece we lack and did not know it had. */
  private learn(link: PeerLink, index: number): boolean {
    if (!this.avail.add(link.id, index)) return false;
    if (!link.choked) this.sources[index]!++;
    if (this.have[index]) return false;
    link.useful++;
    return true;
  }

  private markHave(index: number): void {
    if (this.have[index]) return;
    this.have[index] = 1;
    this.haveCount++;
    this.bytesHave += this.sizes[index] ?? 0;
    for (const l of this.links.values()) if (this.avail.has(l.id, index)) l.useful--;
  }

  private interest(link: PeerLink): SchedulerAction[] {
    const want = link.useful > 0;
    if (want === link.interested) return [];
    link.interested = want;
    return [{ type: want ? 'interested' : 'not-interested', peer: link.id }];
  }

  /** Drops one request from the peer's pipeline and from the bytes in flight. */
  private forget(link: PeerLink, index: number): void {
    if (link.inflight.delete(index)) this.inflightBytes -= this.sizes[index] ?? 0;
  }

  /** Takes the request back; the piece returns to `wanted` once nobody is asked for it. */
  private unrequest(link: PeerLink, index: number, failed = false): void {
    this.forget(link, index);
    if (failed) {
      const f = this.avoid.get(index) ?? new Set<PeerId>();
      f.add(link.id);
      this.avoid.set(index, f);
    }
    const askedOf = this.requested.get(index);
    askedOf?.delete(link.id);
    if (askedOf && askedOf.size > 0) return;
    this.requested.delete(index);
    if (!this.have[index]) this.wanted.add(index);
  }

  private drop(peer: PeerId): void {
    const link = this.links.get(peer);
    if (!link) return;
    for (const i of [...link.inflight.keys()]) this.unrequest(link, i);
    if (!link.choked) this.countSources(link, -1);
    this.links.delete(peer);
    this.avail.removePeer(peer);
  }

  /**
   * Unchoked peers with something for us and nothing asked of them: a piece arriving may have
   * made room under the in-flight cap, and they would otherwise wait for the next tick.
   */
  private idleLinks(): PeerLink[] {
    const out: PeerLink[] = [];
    for (const l of this.links.values()) if (l.inflight.size === 0 && !l.choked && l.useful > 0) out.push(l);
    return out;
  }

  /** The peer's pieces gain or lose a source as it unchokes or chokes us. */
  private countSources(link: PeerLink, delta: 1 | -1): void {
    const held = this.avail.bitsOf(link.id);
    if (!held) return;
    for (let i = 0; i < held.length; i++) if (held[i]) this.sources[i]! += delta;
  }

  /** Gives up on a peer that keeps failing requests without sending a piece (options.unresponsiveFailures). */
  private judge(link: PeerLink): SchedulerAction[] {
    const v = link.unresponsive(this.clock.now(), this.opts);
    if (!v) return [];
    if (v.declined) return [this.ban(link.id, `announced pieces it does not send: ${v.what}`)];
    link.stalled = true;
    for (const i of [...link.inflight.keys()]) this.unrequest(link, i, true);
    return [{ type: 'stalled', peer: link.id, reason: `answered none of its requests: ${v.what}` }];
  }

  private ban(peer: PeerId, reason: string): SchedulerAction {
    this.drop(peer);
    this.banned.add(peer);
    return { type: 'ban', peer, reason };
  }
}
