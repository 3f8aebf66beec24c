import { Bitfield, type Clock, type ReleaseId } from '../core/index.js';
import { newContentPieces, type Piece } from '../manifest/index.js';
import { Choker, SuperSeeder, type ChokeAction, type OfferAction } from '../scheduler/index.js';
import type { HaveTiming } from '../wire/index.js';
import type { SessionPeer } from './peer.js';

const MAX_DISTRUSTED = 4096;

/** The piece space this node works on: the release it serves and what it holds of it. */
export interface Space {
  release: ReleaseId;
  version: number;
  have: Bitfield;
  /** The release's bytes in pieces, which size the publisher's offer window. */
  bytes?: number;
  /** The release's pieces, when this node holds it whole: the publisher tells the new ones from the last space's (newContentPieces). */
  pieces?: readonly Piece[];
}

/**
 * When a peer hears of a piece we gained. Each `have` message is a write, a system call and a
 * wake-up of its receiver; at N=32 a node would send one to each of 31 peers for each of its
 * pieces. The publisher hears at once: its super-seeder counts the copies. A peer that told us it
 * holds the piece never (it asks only for pieces it lacks). A peer that waits for one of our
 * slots (interested, choked) at our next tick: it cannot ask us for the piece before we unchoke
 * it, and the unchoke tells it first. A peer not interested in us hears at once: the piece may be
 * what makes it interested (deferred, a 1 % update at 8 MB/s took 0.26-0.37 s instead of 0.2).
 * (bench/sim runs this too.)
 */
export function haveTiming(to: { publisher: boolean; holds: boolean; unchoked: boolean; interested: boolean }): HaveTiming {
  if (to.publisher) return 'now';
  if (to.holds) return 'never';
  return to.interested && !to.unchoked ? 'later' : 'now';
}

/** What the publisher keeps offered in all: ~4 MiB, a round trip's worth for a fast follower. */
const OFFER_WINDOW_BYTES = 4 << 20;

/**
 * Who gets our upload: the choker picks the unchoked peers; on the publisher, the super-seeder
 * decides which pieces each peer is shown and served, so that the publisher's egress stays near
 * one copy of a release however many frontends there are.
 */
export class UploadPolicy {
  space: Space | null = null;
  private readonly choker: Choker;
  private seeder: SuperSeeder | null = null;
  /** Members some peer banned: not counted as holding copies (see distrust()). */
  private readonly distrusted = new Set<string>();

  constructor(
    private readonly peers: ReadonlyMap<string, SessionPeer>,
    private readonly o: { publisher: boolean; uploadSlots: number; clock: Clock; random: () => number },
  ) {
    this.choker = new Choker({ clock: o.clock, random: o.random, seeding: true, options: { uploadSlots: o.uploadSlots } });
  }

  setSpace(space: Space): void {
    const previous = this.space?.pieces;
    this.space = space;
    // Offers are a peer's pipeline from the publisher: each piece taken up earns the next one. A
    // fixed 2 per peer held one fast follower to round trips; 64 per peer blurred who spreads
    // what among many. A window of bytes spread over the unchoked peers serves both.
    const pieceBytes = space.bytes && space.have.length > 0 ? space.bytes / space.have.length : 64 * 1024;
    const offerBudget = Math.max(2, Math.round(OFFER_WINDOW_BYTES / pieceBytes));
    this.seeder = this.o.publisher
      ? new SuperSeeder({
        pieceCount: space.have.length, clock: this.o.clock, random: this.o.random, options: { offerBudget },
        // Only against the space served before it by this process: after a restart, claims are believed as they were.
        ...(space.pieces && previous && { newContent: newContentPieces(space.pieces, previous) }),
      })
      : null;
    for (const p of this.peers.values()) this.announce(p);
  }

  /** Tells one peer our space and bitfield (on the publisher: an empty one, then offers). */
  announce(p: SessionPeer): void {
    if (!this.space) return;
    if (!this.seeder) {
      p.wire.setSpace(this.space.release, this.space.have);
      return;
    }
    p.wire.setSpace(this.space.release, new Bitfield(this.space.have.length));
    if (this.distrusted.has(p.key)) return;
    this.seeder.peerJoined(p.key);
    // A peer already on this release (it announced it before our space was set, e.g. right after
    // a restart) holds pieces the new seeder must know of: it never repeats them as `have`s.
    if (this.peerOnOurSpace(p)) this.offer(this.seeder.peerBitfield(p.key, p.wire.remoteHave!.bytes));
    if (this.choker.isUnchoked(p.key)) this.offer(this.seeder.peerUnchoked(p.key));
  }

  /** We now hold piece `index` of our space: every peer on it hears of it when haveTiming() says. */
  gained(index: number): void {
    if (!this.space) return;
    this.space.have.set(index);
    for (const p of this.peers.values()) {
      if (!this.onOurSpace(p)) continue;
      const holds = this.peerOnOurSpace(p) && p.wire.remoteHave!.get(index);
      p.wire.have(index, haveTiming({ publisher: p.publisher, holds, unchoked: this.choker.isUnchoked(p.key), interested: this.choker.isInterested(p.key) }));
    }
  }

  peerReady(p: SessionPeer): void {
    // A node that connected again replaces its old connection (PeerTable.add) without leaving:
    // the new one starts choked and has been told nothing, so it starts over here too. Otherwise
    // the choker counts it unchoked and never unchokes it (no bytes until its interest changes).
    this.peerLeft(p.key);
    this.announce(p);
    this.choke(this.choker.peerJoined(p.key));
  }

  peerLeft(key: string): void {
    // The seeder re-offers the pieces the peer was reserving: dropped, they would stay reserved
    // for nobody until offerTimeoutMs (the 10-30 s stalls of the N=16/32 bench).
    if (this.seeder) this.offer(this.seeder.peerLeft(key));
    this.choke(this.choker.peerLeft(key));
  }

  interested(key: string, yes: boolean): void {
    this.choke(this.choker.peerInterested(key, yes));
  }

  /** How many peers unchoke `key`, as it reports (Download.reportUnchokers): who waits for a slot least served goes first. */
  peerUnchokers(key: string, count: number): void {
    this.choker.peerUnchokers(key, count);
  }

  /**
   * Members that peers report having banned (their status messages): on the publisher, their
   * bitfields stop counting as copies. A member claiming every piece would otherwise make the
   * super-seeder defer every piece to it, and starve the honest nodes that banned it. A false
   * report only costs publisher egress.
   */
  distrust(keys: readonly string[]): void {
    for (const key of keys) {
      // Reports are unverified: a member sending endless made-up keys must not grow this forever.
      if (this.distrusted.has(key) || this.distrusted.size >= MAX_DISTRUSTED) continue;
      this.distrusted.add(key);
      if (this.seeder) this.offer(this.seeder.peerLeft(key));
    }
  }

  remoteSpace(p: SessionPeer): void {
    if (this.distrusted.has(p.key)) return;
    if (this.seeder && this.peerOnOurSpace(p)) this.offer(this.seeder.peerBitfield(p.key, p.wire.remoteHave!.bytes));
  }

  remoteHave(p: SessionPeer, index: number): void {
    if (this.distrusted.has(p.key)) return;
    if (this.seeder && this.peerOnOurSpace(p)) this.offer(this.seeder.peerHave(p.key, index));
  }

  /** A piece this node allowed to the peer could not be read: see SuperSeeder.withdraw. */
  unreadable(key: string, index: number): void {
    if (this.seeder) this.offer(this.seeder.withdraw(key, index));
  }

  /** The wire's upload gate. */
  allow(key: string, index: number): boolean {
    return !this.seeder || this.seeder.onRequest(key, index) === 'serve';
  }

  tick(): void {
    for (const p of this.peers.values()) p.wire.flushHaves();
    this.choke(this.choker.tick());
    if (this.seeder) this.offer(this.seeder.tick());
  }

  private onOurSpace(p: SessionPeer): boolean {
    return p.wire.localSpace?.release === this.space?.release;
  }

  private peerOnOurSpace(p: SessionPeer): boolean {
    return p.wire.remoteSpace?.release === this.space?.release;
  }

  private choke(actions: ChokeAction[]): void {
    for (const a of actions) {
      const p = this.peers.get(a.peer);
      if (!p) continue;
      if (a.type === 'unchoke') {
        p.wire.unchoke();
        if (this.seeder) this.offer(this.seeder.peerUnchoked(a.peer));
      } else {
        p.wire.choke();
        if (this.seeder) this.offer(this.seeder.peerChoked(a.peer));
      }
    }
  }

  private offer(offers: OfferAction[]): void {
    for (const o of offers) {
      const p = this.peers.get(o.peer);
      if (p && this.onOurSpace(p)) p.wire.have(o.index);
    }
  }
}
