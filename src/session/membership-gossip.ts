import { ChunkswarmError, type Logger } from '../core/index.js';
import type { MembershipBook, MembershipRecord } from '../membership/index.js';

export interface MembershipGossipOptions {
  book: MembershipBook;
  /** This node's swarm key. */
  self: string;
  /** Puts the book's allowlist into effect (Swarm.setAllowlist). */
  enforce: (allowlist: string[] | null) => void;
  /** Passes the newest record on to every peer (their status message carries it). */
  spread: () => void;
  log: Logger;
}

/**
 * The membership record's journey through a node: taken from a peer's status message when the
 * book accepts it, or from the publisher's own signature, then enforced and passed on.
 */
export class MembershipGossip {
  private readonly refused = new Set<string>();

  constructor(private readonly o: MembershipGossipOptions) {}

  /** A record a peer sent; bad or stale ones are logged once per peer and reason. */
  offer(from: string, text: string): void {
    void this.o.book.offer(text).then(
      (v) => {
        if (v.kind === 'new') return this.took(v.record, `from ${from.slice(0, 12)}`);
        if (v.kind === 'known') return;
        const key = `${from}\0${v.error.code}`;
        if (v.error.code === 'E_STALE_VERSION' || this.refused.has(key)) return;
        this.refused.add(key);
        this.o.log.warn(`refused a membership record from ${from.slice(0, 12)}: ${v.error.code}: ${v.error.message}`, { peer: from, code: v.error.code });
      },
      (err: unknown) => {
        const e = ChunkswarmError.fromSystem(err, 'storing the membership');
        this.o.log.error(`storing a membership record: ${e.message}`, { code: e.code });
      },
    );
  }

  /** A record this node (the publisher) just signed. */
  signed(record: MembershipRecord): void {
    this.took(record, 'signed here');
  }

  /** Is this node in the record it enforces (null: no record, or not enforced)? */
  isMember(): boolean | null {
    const r = this.o.book.record;
    if (!r || !this.o.book.enforced) return null;
    return r.body.members.some((m) => m.key === this.o.self);
  }

  private took(record: MembershipRecord, how: string): void {
    const b = record.body;
    this.o.log.info(`membership version ${b.version} (${b.members.length} nodes, ${how})${this.o.book.enforced ? '' : '; not enforced here (network.allowlist is null)'}`);
    if (this.isMember() === false) {
      this.o.log.warn(`this node (${this.o.self.slice(0, 12)}) is not in membership version ${b.version}: the other nodes refuse it`);
    }
    this.o.enforce(this.o.book.allowlist());
    this.o.spread();
  }
}
