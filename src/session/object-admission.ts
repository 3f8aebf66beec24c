import type { Clock } from '../core/index.js';

/** A peer that has asked nothing for this long has its objects (or gave up): its place goes to another. */
const IDLE_MS = 2000;

/**
 * The peers whose object requests the publisher answers right now. When a release comes out, every
 * follower asks for its tree and file objects at once, and only the publisher has them: answering
 * all of them would spend its upload on one copy of the objects per neighbour (megabytes each for
 * a tree of 10^5 files) before its first piece. It answers `slots` peers at a time; the others are
 * told it has no such object and ask again, by then mostly of the peers that already have them
 * (session/object-fetch.ts asks the peers on the release, at random, the publisher among them).
 */
export class ObjectAdmission {
  /** Admitted peers, by key: when each last asked. */
  private readonly clients = new Map<string, number>();

  constructor(private readonly o: { slots: number; clock: Clock; idleMs?: number }) {}

  /** Whether to answer this peer's object request now. */
  admit(peer: string): boolean {
    const now = this.o.clock.now();
    const idle = this.o.idleMs ?? IDLE_MS;
    for (const [k, last] of this.clients) if (now - last > idle) this.clients.delete(k);
    if (this.clients.has(peer) || this.clients.size < this.o.slots) {
      this.clients.set(peer, now);
      return true;
    }
    return false;
  }

  /** The peer left: its place goes to another at once instead of after `idleMs`. */
  free(peer: string): void {
    this.clients.delete(peer);
  }
}
