import type { PeerId } from './types.js';

/**
 * Who holds which piece, and how many peers hold each: the input of rarest-first and of
 * super-seeding. A histogram of the counts answers "is any piece rarer than c?" without a scan.
 */
export class Availability {
  private readonly counts: Uint32Array;
  /** Per peer: one byte per piece, 1 if held, and how many it holds (one lookup per event). */
  private readonly holdings = new Map<PeerId, { bits: Uint8Array; held: number }>();
  /** histogram[c] = number of pieces held by exactly c peers. */
  private histogram: number[];

  constructor(readonly pieceCount: number) {
    this.counts = new Uint32Array(pieceCount);
    this.histogram = [pieceCount];
  }

  addPeer(peer: PeerId): void {
    if (this.holdings.has(peer)) return;
    this.holdings.set(peer, { bits: new Uint8Array(this.pieceCount), held: 0 });
    this.histogram.push(0);
  }

  hasPeer(peer: PeerId): boolean {
    return this.holdings.has(peer);
  }

  peers(): IterableIterator<PeerId> {
    return this.holdings.keys();
  }

  /** Forgets the peer; returns the pieces it held. */
  removePeer(peer: PeerId): number[] {
    const bits = this.holdings.get(peer)?.bits;
    if (!bits) return [];
    const had: number[] = [];
    for (let i = 0; i < this.pieceCount; i++) {
      if (bits[i]) {
        had.push(i);
        this.move(i, -1);
      }
    }
    this.holdings.delete(peer);
    this.histogram.pop();
    return had;
  }

  /** Records that the peer holds the piece; true if that is news. */
  add(peer: PeerId, index: number): boolean {
    const h = this.holdings.get(peer);
    if (!h || h.bits[index]) return false;
    h.bits[index] = 1;
    h.held++;
    this.move(index, +1);
    return true;
  }

  /** Records that the peer no longer holds the piece (it re-announced a smaller bitfield); true if it did. */
  remove(peer: PeerId, index: number): boolean {
    const h = this.holdings.get(peer);
    if (!h || !h.bits[index]) return false;
    h.bits[index] = 0;
    h.held--;
    this.move(index, -1);
    return true;
  }

  /** One byte per piece, 1 if held: for scans that would otherwise look the peer up per piece. */
  bitsOf(peer: PeerId): Readonly<Uint8Array> | undefined {
    return this.holdings.get(peer)?.bits;
  }

  has(peer: PeerId, index: number): boolean {
    return this.holdings.get(peer)?.bits[index] === 1;
  }

  count(index: number): number {
    return this.counts[index] ?? 0;
  }

  heldBy(peer: PeerId): number {
    return this.holdings.get(peer)?.held ?? 0;
  }

  /** True if some piece is held by fewer than `c` peers. */
  anyRarerThan(c: number): boolean {
    for (let k = 0; k < c && k < this.histogram.length; k++) if ((this.histogram[k] ?? 0) > 0) return true;
    return false;
  }

  private move(index: number, delta: 1 | -1): void {
    const before = this.counts[index] ?? 0;
    this.counts[index] = before + delta;
    this.histogram[before] = (this.histogram[before] ?? 0) - 1;
    this.histogram[before + delta] = (this.histogram[before + delta] ?? 0) + 1;
  }
}
