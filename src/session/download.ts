import { ChunkswarmError, isChunkswarmError, type Clock } from '../core/index.js';
import type { Stager } from '../deploy/index.js';
import { PieceScheduler, type RequestFailure, type SchedulerAction, type SchedulerOptions } from '../scheduler/index.js';
import { isDeclined } from '../wire/index.js';
import type { SessionPeer } from './peer.js';

export interface DownloadOptions {
  stager: Stager;
  clock: Clock;
  random: () => number;
  scheduler?: Partial<SchedulerOptions>;
  /** A piece was verified and stored: announce it. */
  onPiece: (index: number, from: SessionPeer) => void;
  onBan: (peer: SessionPeer, reason: string) => void;
  /** The peer answered none of its recent requests; its pieces are asked of others meanwhile. */
  onStall: (peer: SessionPeer, reason: string) => void;
  log: (line: string) => void;
}

/**
 * The piece transfer of one release: feeds wire events to the pure scheduler and carries out its
 * actions on the wires, writing verified pieces into the stager. Resolves `done` when every piece
 * is on disk; rejects it when the stager cannot write (a full disk, say).
 */
export class Download {
  readonly scheduler: PieceScheduler;
  readonly done: Promise<void>;
  private readonly peers = new Map<string, SessionPeer>();
  /** Per peer, its wire's piece message count at the last tick. */
  private readonly pieceMessages = new Map<string, number>();
  private resolve!: () => void;
  private reject!: (err: unknown) => void;
  private finished = false;
  private settled = false;
  duplicates = 0;

  constructor(private readonly o: DownloadOptions) {
    const { stager } = o;
    this.scheduler = new PieceScheduler({
      pieceSizes: stager.pieces.map((p) => p.size),
      have: stager.bitfield(),
      clock: o.clock,
      random: o.random,
      ...(o.scheduler && { options: o.scheduler }),
    });
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => undefined);
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
    this.peers.set(p.key, p);
    this.apply(this.scheduler.peerJoined(p.key));
    this.onSpace(p);
    if (!p.wire.peerChoking) this.apply(this.scheduler.peerUnchoked(p.key));
  }

  removePeer(key: string): void {
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
    for (const p of this.peers.values()) this.noteActivity(p);
    this.apply(this.scheduler.tick());
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
    if (n !== this.pieceMessages.get(p.key)) this.scheduler.peerActive(p.key);
    this.pieceMessages.set(p.key, n);
  }

  /**
   * Whether a failed request was the peer's doing. A peer that moved to another release did nothing
   * wrong, and the publisher declines by design (super-seeding defers pieces others can give).
   */
  private failureOf(p: SessionPeer, err: unknown): RequestFailure | undefined {
    if (p.wire.remoteSpace?.release !== this.release) return undefined;
    if (isChunkswarmError(err, 'E_TIMEOUT')) return 'timeout';
    return isDeclined(err) && !p.publisher ? 'declined' : undefined;
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
          this.o.onStall(p, a.reason);
          break;
        case 'cancel':
          // The end-game's other copy: a peer that has not answered yet drops the request.
          p.wire.cancelPiece(a.index);
          break;
      }
    }
  }

  private async request(p: SessionPeer, index: number): Promise<void> {
    const piece = this.o.stager.pieces[index]!;
    let bytes: Uint8Array;
    try {
      bytes = await p.wire.requestPiece(index, piece.size);
    } catch (err) {
      if (this.finished) return;
      if (isChunkswarmError(err, 'E_HASH_MISMATCH')) this.apply(this.scheduler.pieceReceived(p.key, index, false));
      else if (!isChunkswarmError(err, 'E_CLOSED')) {
        this.noteActivity(p);
        this.apply(this.scheduler.pieceRejected(p.key, index, this.failureOf(p, err)));
      }
      return;
    }
    if (this.finished) return;
    try {
      if (this.o.stager.hasPiece(index)) this.duplicates++;
      else {
        await this.o.stager.writePiece(index, bytes);
        this.o.onPiece(index, p);
      }
    } catch (err) {
      // The stager verifies every chunk of a piece: bytes that are not the piece are the peer's lie.
      if (isChunkswarmError(err, 'E_HASH_MISMATCH')) {
        this.o.onBan(p, `bad piece ${index}: ${err.message}`);
        this.apply(this.scheduler.pieceReceived(p.key, index, false));
        return;
      }
      this.fail(err);
      return;
    }
    this.apply(this.scheduler.pieceReceived(p.key, index, true));
    if (this.scheduler.isComplete()) this.finish();
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = this.finished = true;
    this.resolve();
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = this.finished = true;
    this.reject(err);
  }
}
