import { MAX_FRAME_PAYLOAD } from '../../src/swarm/frames.js';

/** An accepted piece request (index -1: the node's objects): bytes of it still to send. */
export interface Job {
  index: number;
  size: number;
  left: number;
}

/**
 * A node's upload as src/swarm paces it: every peer stream writes its pieces in frames of at most
 * MAX_FRAME_PAYLOAD and reserves each frame's bytes from the node-wide token bucket before writing
 * it, so the streams with something to send take turns frame by frame (round robin), each frame
 * going out at the full upload rate. Requests of one peer are answered in order.
 */
export class Uplink {
  readonly queues = new Map<number, Job[]>();
  private readonly turns: number[] = [];
  private turnHead = 0;
  private readonly waiting = new Set<number>();
  private frame: { peer: number; job: Job; left: number; bytes: number } | null = null;

  enqueue(peer: number, job: Job): void {
    let q = this.queues.get(peer);
    if (!q) {
      q = [];
      this.queues.set(peer, q);
    }
    q.push(job);
    this.wait(peer);
  }

  /** Drops a request not started yet (bittorrent-protocol's cancel). */
  cancel(peer: number, index: number): void {
    const q = this.queues.get(peer);
    const at = q ? q.findIndex((j) => j.index === index && j.left === j.size) : -1;
    if (at >= 0) q!.splice(at, 1);
  }

  /** A choke drops the peer's piece requests not started yet (objects are not choked). */
  dropUnstarted(peer: number): void {
    const q = this.queues.get(peer);
    if (q) this.queues.set(peer, q.filter((j) => j.left < j.size || j.index < 0));
  }

  forget(peer: number): void {
    this.queues.delete(peer);
    if (this.frame?.peer === peer) this.frame = null;
  }

  busy(): boolean {
    return this.frame !== null || this.turnHead < this.turns.length;
  }

  /** Sends up to `budget` bytes; `sent` hears of every frame that left. Returns the bytes used. */
  send(budget: number, sent: (peer: number, index: number, bytes: number, last: boolean) => void): number {
    let used = 0;
    while (budget > 1e-9) {
      if (!this.frame && !this.nextFrame()) break;
      const f = this.frame!;
      const took = Math.min(budget, f.left);
      f.left -= took;
      f.job.left -= took;
      budget -= took;
      used += took;
      if (f.left > 1e-9) break;
      const last = f.job.left <= 1e-9;
      const q = this.queues.get(f.peer);
      if (last && q?.[0] === f.job) q.shift();
      this.frame = null;
      sent(f.peer, f.job.index, f.bytes, last);
      this.wait(f.peer);
    }
    return used;
  }

  private wait(peer: number): void {
    if (this.waiting.has(peer) || this.frame?.peer === peer || !this.queues.get(peer)?.length) return;
    this.waiting.add(peer);
    this.turns.push(peer);
  }

  private nextFrame(): boolean {
    while (this.turnHead < this.turns.length) {
      const peer = this.turns[this.turnHead++]!;
      this.waiting.delete(peer);
      if (this.turnHead > 1024 && this.turnHead * 2 > this.turns.length) {
        this.turns.splice(0, this.turnHead);
        this.turnHead = 0;
      }
      const job = this.queues.get(peer)?.[0];
      if (!job) continue;
      const bytes = Math.min(MAX_FRAME_PAYLOAD, job.left);
      this.frame = { peer, job, left: bytes, bytes };
      return true;
    }
    return false;
  }
}

interface Frame {
  from: number;
  index: number;
  left: number;
  last: boolean;
}

/**
 * A node's download as src/swarm paces it: frames from every peer pass the node-wide download
 * bucket in the order they arrived; a piece is whole when its last frame has passed.
 */
export class Downlink {
  private readonly frames: Frame[] = [];
  private head = 0;

  arrive(from: number, index: number, bytes: number, last: boolean): void {
    this.frames.push({ from, index, left: bytes, last });
  }

  /** Frames of a peer that is gone are dropped on arrival at the head. */
  receive(budget: number, alive: (from: number) => boolean, whole: (from: number, index: number) => void): number {
    let used = 0;
    while (budget > 1e-9 && this.head < this.frames.length) {
      const f = this.frames[this.head]!;
      if (!alive(f.from)) {
        this.head++;
        continue;
      }
      const took = Math.min(budget, f.left);
      f.left -= took;
      budget -= took;
      used += took;
      if (f.left > 1e-9) break;
      this.head++;
      if (f.last) whole(f.from, f.index);
    }
    if (this.head === this.frames.length) {
      this.frames.length = 0;
      this.head = 0;
    }
    return used;
  }

  busy(): boolean {
    return this.head < this.frames.length;
  }
}
