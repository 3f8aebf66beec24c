import type { SessionPeer } from './peer.js';
import type { PeerStatus } from './status.js';

interface Counts {
  up: number;
  down: number;
  /** Objects this node sent the peer. */
  objects: number;
  publisher: boolean;
}

type Row = Counts & Pick<PeerStatus, 'connected' | 'path'>;

/**
 * Piece bytes per remote node across all its connections: a peer that reconnects keeps its
 * history, so "how much came from the publisher" survives reconnects.
 */
export class Traffic {
  private readonly past = new Map<string, Counts>();
  private readonly open = new Set<SessionPeer>();

  track(p: SessionPeer): void {
    this.open.add(p);
  }

  closed(p: SessionPeer): void {
    if (!this.open.delete(p)) return;
    const s = p.wire.stats();
    const c = this.past.get(p.key) ?? { up: 0, down: 0, objects: 0, publisher: false };
    this.past.set(p.key, { up: c.up + s.uploadedBytes, down: c.down + s.downloadedBytes, objects: c.objects + s.objectsServed, publisher: c.publisher || p.publisher });
  }

  private all(): Map<string, Row> {
    const out = new Map<string, Row>();
    for (const [k, c] of this.past) out.set(k, { ...c, connected: false, path: null });
    for (const p of this.open) {
      const s = p.wire.stats();
      const c = out.get(p.key) ?? { up: 0, down: 0, objects: 0, publisher: false };
      out.set(p.key, {
        up: c.up + s.uploadedBytes, down: c.down + s.downloadedBytes, objects: c.objects + s.objectsServed, publisher: c.publisher || p.publisher,
        connected: true, path: p.path,
      });
    }
    return out;
  }

  totals(): { bytesUp: number; bytesDown: number; bytesFromPublisher: number; objectsServed: number } {
    let bytesUp = 0;
    let bytesDown = 0;
    let bytesFromPublisher = 0;
    let objectsServed = 0;
    for (const c of this.all().values()) {
      bytesUp += c.up;
      bytesDown += c.down;
      objectsServed += c.objects;
      if (c.publisher) bytesFromPublisher += c.down;
    }
    return { bytesUp, bytesDown, bytesFromPublisher, objectsServed };
  }

  peers(): PeerStatus[] {
    return [...this.all()].map(([key, { objects: _objects, ...c }]) => ({ key, ...c })).sort((a, b) => b.up + b.down - (a.up + a.down));
  }
}
