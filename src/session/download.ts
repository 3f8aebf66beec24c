import { isChunkswarmError, type Clock } from '../core/index.js';
import type { Stager } from '../deploy/index.js';
import { PieceScheduler, type SchedulerAction, type SchedulerOptions } from '../scheduler/index.js';
import type { SessionPeer } from './peer.js';

export interface DownloadOptions {
  stager: Stager;
  clock: Clock;
  random: () => number;
  scheduler?: Partial<SchedulerOptions>;
  /** A piece was verified and stored: announce it. */
  onPiece: (index: number, from: SessionPeer) => void;
  onBan: (peer: SessionPeer, reason: string) => void;
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
    if (this.finished || this.peers.has(p.key)) return;
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
    if (!this.peers.has(p.key)) return;
    const space = p.wire.remoteSpace;
    const bits = space?.release === this.release ? p.wire.remoteHave?.bytes : undefined;
    this.apply(this.scheduler.peerBitfield(p.key, bits ?? []));
  }

  onHave(p: SessionPeer, index: number): void {
    if (this.peers.has(p.key) && p.wire.remoteSpace?.release === this.release) this.apply(this.scheduler.peerHave(p.key, index));
  }

  onChoke(p: SessionPeer): void {
    if (this.peers.has(p.key)) this.apply(this.scheduler.peerChoked(p.key));
  }

  onUnchoke(p: SessionPeer): void {
    if (this.peers.has(p.key)) this.apply(this.scheduler.peerUnchoked(p.key));
  }

  tick(): void {
    if (!this.finished) this.apply(this.scheduler.tick());
  }

  stop(): void {
    this.finished = true;
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
        case 'cancel':
          // The duplicate end-game copy is cheap to receive and drop; bittorrent-protocol keeps
          // no handle to withdraw a request already written to the socket.
          break;
      }
    }
  }

  private async request(p: SessionPeer, index: number): Promise<void> {
    const piece = this.o.stager.pieces[index]!;
    let bytes: Uint8Array;
    try {
      bytes = await p.wire.requestPiece(index, piece.size, piece.hash);
    } catch (err) {
      if (this.finished) return;
      if (isChunkswarmError(err, 'E_HASH_MISMATCH')) this.apply(this.scheduler.pieceReceived(p.key, index, false));
      else if (!isChunkswarmError(err, 'E_CLOSED')) this.apply(this.scheduler.pieceRejected(p.key, index));
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
