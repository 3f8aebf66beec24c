import { ChunkswarmError, isChunkswarmError, type Clock, type Logger } from '../core/index.js';
import type { Stager } from '../deploy/index.js';
import { wholePiece } from '../manifest/index.js';
import { DEFAULT_SCHEDULER_OPTIONS, PieceScheduler, type SchedulerAction, type SchedulerOptions } from '../scheduler/index.js';
import { isDeclined } from '../wire/index.js';
import type { SessionPeer } from './peer.js';
import { PeerStanding, type StandingOptions, type Verdict } from './peer-standing.js';

/** A download this long without a new piece says once what its missing pieces wait for. */
const QUIET_REPORT_MS = 5_000;

/** What a download needs of the staging area: its pieces, the part of each it lacks, and a store that verifies what it keeps. */
export type PieceStore = Pick<Stager, 'releaseId' | 'pieces' | 'bitfield' | 'hasPiece' | 'wantedRange' | 'writePiece'>;

export interface DownloadOptions {
  stager: PieceStore;
  clock: Clock;
  random: () => number;
  scheduler?: Partial<SchedulerOptions>;
  /** How peers are judged; default from the scheduler's unresponsiveFailures and unresponsiveMs. */
  standing?: Partial<StandingOptions>;
  /**
   * What each peer has shown of itself so far, kept from one release's download to the next (the
   * node's): a member that claims pieces and never sends one is banned on its third round of
   * silence, however many releases those rounds span. With a record per download it was never
   * banned once each rollout ended before its third round, and cost every rollout its timeouts.
   */
  standings?: Map<string, PeerStanding>;
  /** A piece was verified and stored: announce it. */
  onPiece: (index: number, from: SessionPeer) => void;
  /** Proof of a broken or hostile peer: a bad piece, or a run of refusals of pieces it announced. */
  onBan: (peer: SessionPeer, reason: string) => void;
  /** The peer answered no piece request for several rounds although its connection lives. */
  onStall: (peer: SessionPeer, reason: string) => void;
  log: Logger;
}

/**
 * The piece transfer of one release: feeds wire events to the pure scheduler and carries out its
 * actions on the wires, writing pieces into the stager, which verifies them. Resolves `done` when
 * every piece is on disk; rejects it when the stager cannot write (a full disk, say).
 */
export class Download {
  readonly scheduler: PieceScheduler;
  readonly done: Promise<void>;
  /** Peers the scheduler may ask. */
  private readonly peers = new Map<string, SessionPeer>();
  /** Peers left alone for a while (slow or silent), and when they come back. */
  private readonly resting = new Map<string, { p: SessionPeer; timer: { cancel(): void } }>();
  private readonly standing: Map<string, PeerStanding>;
  private readonly standingOptions: StandingOptions;
  /** Per peer, its wire's piece message count at the last look. */
  private readonly pieceMessages = new Map<string, number>();
  private resolve!: () => void;
  private reject!: (err: unknown) => void;
  private finished = false;
  private settled = false;
  private lastPieceAt: number;
  private quietReported = false;
  /** The count of peers unchoking us last told to our peers (reportUnchokers), null before the first. */
  private unchokersSent: number | null = null;
  duplicates = 0;

  constructor(private readonly o: DownloadOptions) {
    const { stager } = o;
    this.scheduler = new PieceScheduler({
      // What each missing piece will bring: its rate and the bytes in flight are counted in those.
      pieceSizes: stager.pieces.map((p, i) => (stager.hasPiece(i) ? p.size : stager.wantedRange(i).length)),
      have: stager.bitfield(),
      clock: o.clock,
      random: o.random,
      ...(o.scheduler && { options: o.scheduler }),
    });
    const failures = o.scheduler?.unresponsiveFailures ?? DEFAULT_SCHEDULER_OPTIONS.unresponsiveFailures;
    const spanMs = o.scheduler?.unresponsiveMs ?? DEFAULT_SCHEDULER_OPTIONS.unresponsiveMs;
    this.standingOptions = { failures, spanMs, backOffMs: spanMs, maxBackOffMs: 8 * spanMs, stalledAfterRounds: 3, ...o.standing };
    this.standing = o.standings ?? new Map();
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => undefined);
    this.lastPieceAt = o.clock.now();
    if (this.scheduler.isComplete()) this.finish();
  }

  get release(): string {
    return this.o.stager.releaseId;
  }

  addPeer(p: SessionPeer): void {
    const old = this.peers.get(p.key);
    if (this.finished || old === p) return;
    // A new connection to the same node replaces the old one, whose requests can never complete.
    if (old) this.removePeer(p.key);
    this.wake(p.key);
    this.peers.set(p.key, p);
    if (!this.pieceMessages.has(p.key)) this.pieceMessages.set(p.key, p.wire.stats().pieceMessages);
    this.apply(this.scheduler.peerJoined(p.key));
    this.onSpace(p);
    if (!p.wire.peerChoking) this.apply(this.scheduler.peerUnchoked(p.key));
    if (this.unchokersSent !== null) p.wire.sendUnchokers(this.unchokersSent);
  }

  removePeer(key: string): void {
    this.wake(key);
    if (!this.peers.delete(key) || this.finished) return;
    this.apply(this.scheduler.peerLeft(key));
  }

  /** The peer announced a piece space: its bitfield counts only if it is ours. */
  onSpace(p: SessionPeer): void {
    if (!this.isCurrent(p)) return;
    const space = p.wire.remoteSpace;
    const bits = space?.release === this.release ? p.wire.remoteHave?.bytes : undefined;
    this.apply(this.scheduler.peerBitfield(p.key, bits ?? []));
  }

  onHave(p: SessionPeer, index: number): void {
    if (this.isCurrent(p) && p.wire.remoteSpace?.release === this.release) this.apply(this.scheduler.peerHave(p.key, index));
  }

  onChoke(p: SessionPeer): void {
    if (this.isCurrent(p)) this.apply(this.scheduler.peerChoked(p.key));
  }

  onUnchoke(p: SessionPeer): void {
    if (this.isCurrent(p)) this.apply(this.scheduler.peerUnchoked(p.key));
  }

  tick(): void {
    if (this.finished) return;
    for (const p of [...this.peers.values(), ...[...this.resting.values()].map((r) => r.p)]) this.noteActivity(p);
    this.apply(this.scheduler.tick());
    this.reportUnchokers();
    this.reportQuiet();
  }

  /**
   * Tells our peers, when it changed since the last tick, how many of them unchoke us: their
   * chokers give a free slot to the peer that the fewest unchoke (Choker.peerUnchokers), so that
   * none is left with two uploaders while others have a dozen.
   */
  private reportUnchokers(): void {
    let count = 0;
    for (const p of this.peers.values()) if (!p.wire.peerChoking && p.wire.remoteSpace?.release === this.release) count++;
    if (count === this.unchokersSent) return;
    this.unchokersSent = count;
    for (const p of this.peers.values()) p.wire.sendUnchokers(count);
  }

  private reportQuiet(): void {
    const quietMs = this.o.clock.now() - this.lastPieceAt;
    if (this.finished || this.quietReported || quietMs < QUIET_REPORT_MS) return;
    this.quietReported = true;
    const w = this.scheduler.waiting();
    this.o.log.info(
      `release ${this.release.slice(0, 12)}: no piece for ${(quietMs / 1000).toFixed(1)} s; of ${w.missing} missing pieces, ${w.requested} are requested, ` +
        `${w.unavailable} on no peer we may ask, ${w.choked} only on peers that choke us, ${w.refused} refused lately by their holders, ` +
        `${w.queued} not asked yet (${this.peers.size} peers, ${this.resting.size} left alone for a while)`,
    );
  }

  /**
   * Missing pieces that no connected peer holds. The publisher holds all of its release but, super-
   * seeding, shows only what it offers: while it is connected nothing is unavailable.
   */
  unavailablePieces(): number {
    for (const p of this.peers.values()) if (p.publisher && p.wire.remoteSpace?.release === this.release) return 0;
    return this.scheduler.missingUnavailable().length;
  }

  /** Abandons the transfer (a newer release, or the node closing): `done` rejects with E_CLOSED. */
  stop(): void {
    this.fail(new ChunkswarmError('E_CLOSED', `download of release ${this.release} stopped`));
  }

  /** Piece data from the peer since last time, even too late to use, shows it is alive and sending. */
  private noteActivity(p: SessionPeer): void {
    const n = p.wire.stats().pieceMessages;
    if (n !== this.pieceMessages.get(p.key)) {
      this.scheduler.peerActive(p.key);
      this.standingOf(p.key).sent();
    }
    this.pieceMessages.set(p.key, n);
  }

  private standingOf(key: string): PeerStanding {
    let s = this.standing.get(key);
    if (!s) this.standing.set(key, (s = new PeerStanding(this.standingOptions)));
    return s;
  }

  /**
   * A request the peer did not satisfy. Only a refusal counts against it, and only for a piece of
   * our release that it announced while it was not choking us; the publisher declines by design
   * (super-seeding defers pieces others can give). A timeout is slowness.
   */
  private judge(p: SessionPeer, err: unknown): Verdict | null {
    if (p.wire.remoteSpace?.release !== this.release) return null;
    const now = this.o.clock.now();
    if (isChunkswarmError(err, 'E_TIMEOUT')) return this.standingOf(p.key).timedOut(now);
    if (isDeclined(err) && !p.publisher && !p.wire.peerChoking) return this.standingOf(p.key).refused(now);
    return null;
  }

  private act(p: SessionPeer, v: Verdict | null): void {
    if (v === null || this.finished) return;
    if (v.kind === 'ban') return this.o.onBan(p, v.reason);
    if (v.kind === 'stalled') {
      this.o.onStall(p, v.reason);
      return this.rest(p, this.standingOptions.maxBackOffMs);
    }
    this.o.log.info(`peer ${p.key.slice(0, 12)} is slow: ${v.reason}`, { peer: p.key });
    this.rest(p, v.ms);
  }

  /** Leaves the peer out of the scheduler for `ms`; its pieces are asked of others meanwhile. */
  private rest(p: SessionPeer, ms: number): void {
    if (!this.isCurrent(p)) return;
    this.peers.delete(p.key);
    this.apply(this.scheduler.peerLeft(p.key));
    const timer = this.o.clock.setTimeout(() => {
      this.resting.delete(p.key);
      if (!p.wire.closed) this.addPeer(p);
    }, ms);
    this.resting.set(p.key, { p, timer });
  }

  private wake(key: string): void {
    this.resting.get(key)?.timer.cancel();
    this.resting.delete(key);
  }

  /** Events of a connection that was replaced by a newer one to the same node are stale. */
  private isCurrent(p: SessionPeer): boolean {
    return this.peers.get(p.key) === p;
  }

  private apply(actions: SchedulerAction[]): void {
    for (const a of actions) {
      if (this.finished) return;
      const p = this.peers.get(a.peer);
      if (!p) continue;
      switch (a.type) {
        case 'request':
          void this.request(p, a.index);
          break;
        case 'interested':
          p.wire.interested();
          break;
        case 'not-interested':
          p.wire.uninterested();
          break;
        case 'ban':
          this.o.onBan(p, a.reason);
          break;
        case 'stalled':
          // The scheduler's own timeout ran out before the wire's: slowness, as in judge().
          this.rest(p, this.standingOptions.backOffMs);
          break;
        case 'cancel':
          // The end-game's other copy: a peer that has not answered yet drops the request.
          p.wire.cancelPiece(a.index);
          break;
      }
    }
  }

  /** Asks `p` for the part of the piece this node lacks (all of it from a peer that takes whole pieces only). */
  private async request(p: SessionPeer, index: number): Promise<void> {
    const piece = this.o.stager.pieces[index]!;
    const range = p.wire.takesRanges ? this.o.stager.wantedRange(index) : wholePiece(piece);
    let bytes: Uint8Array;
    try {
      bytes = await p.wire.requestPiece(index, range.length, range.offset);
    } catch (err) {
      if (this.finished) return;
      if (isChunkswarmError(err, 'E_PROTOCOL')) this.badPiece(p, index, err);
      else if (!isChunkswarmError(err, 'E_CLOSED')) {
        this.noteActivity(p);
        // No failure kind for the scheduler: the verdict on the peer is judge()'s.
        this.apply(this.scheduler.pieceRejected(p.key, index));
        this.act(p, this.judge(p, err));
      }
      return;
    }
    if (this.finished) return;
    try {
      if (this.o.stager.hasPiece(index)) this.duplicates++;
      else {
        // The one check of the bytes: the stager hashes each chunk of the piece as it stores it.
        await this.o.stager.writePiece(index, bytes, range.offset);
        this.o.onPiece(index, p);
      }
    } catch (err) {
      if (isChunkswarmError(err, 'E_HASH_MISMATCH')) return this.badPiece(p, index, err);
      // A chunk this node was to supply itself changed meanwhile: the piece is asked for again, whole.
      if (isChunkswarmError(err, 'E_NOT_FOUND')) {
        this.o.log.warn(err.message, { code: err.code });
        this.apply(this.scheduler.pieceUnusable(p.key, index));
        return;
      }
      this.fail(err);
      return;
    }
    this.standingOf(p.key).sent();
    this.lastPieceAt = this.o.clock.now();
    this.quietReported = false;
    this.apply(this.scheduler.pieceReceived(p.key, index, true));
    if (this.scheduler.isComplete()) this.finish();
  }

  /** Proof of a broken or hostile peer (also while it rests): banned, with what was wrong. */
  private badPiece(p: SessionPeer, index: number, err: Error): void {
    const actions = this.scheduler.pieceReceived(p.key, index, false);
    this.o.onBan(p, `bad piece ${index}: ${err.message}`);
    this.apply(actions.filter((a) => !(a.type === 'ban' && a.peer === p.key)));
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = this.finished = true;
    this.cleanup();
    this.resolve();
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = this.finished = true;
    this.cleanup();
    this.reject(err);
  }

  private cleanup(): void {
    for (const key of [...this.resting.keys()]) this.wake(key);
  }
}
