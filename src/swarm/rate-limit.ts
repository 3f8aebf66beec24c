import type { Clock } from '../core/index.js';
import { TokenBucket } from './token-bucket.js';

/** Bytes per second; 0 means unlimited. Names match the `limits` section of swarm.config.json. */
export interface RateLimits {
  uploadBytesPerSec?: number;
  downloadBytesPerSec?: number;
  perPeerUploadBytesPerSec?: number;
}

/** How long a stream must hold `bytes` before writing / delivering them. */
export interface Pacer {
  upload(bytes: number): number;
  download(bytes: number): number;
}

/**
 * The node-wide buckets (shared by every peer) plus a fresh per-peer upload bucket for each peer.
 * A transfer waits for the slowest bucket it draws from.
 */
export class RateLimiter {
  private readonly upload: TokenBucket | null;
  private readonly download: TokenBucket | null;

  constructor(private readonly limits: RateLimits, private readonly clock: Clock) {
    this.upload = bucket(limits.uploadBytesPerSec, clock);
    this.download = bucket(limits.downloadBytesPerSec, clock);
  }

  /** A pacer for one peer's stream, or null when nothing is limited. */
  forPeer(): Pacer | null {
    const perPeer = bucket(this.limits.perPeerUploadBytesPerSec, this.clock);
    const { upload, download } = this;
    if (!upload && !download && !perPeer) return null;
    return {
      upload: (n) => Math.max(upload?.take(n) ?? 0, perPeer?.take(n) ?? 0),
      download: (n) => download?.take(n) ?? 0,
    };
  }
}

function bucket(bytesPerSec: number | undefined, clock: Clock): TokenBucket | null {
  return bytesPerSec ? new TokenBucket({ bytesPerSec, clock }) : null;
}
