import { ChunkswarmError, SerialQueue, isChunkswarmError } from '../core/index.js';
import { clusterIdOf, decodeSignedRelease, encodeSignedRelease, releaseId, verifyRelease, type SignedRelease } from '../manifest/index.js';
import type { ReleaseStore } from '../store/index.js';

export type HeadVerdict =
  | { kind: 'new'; release: SignedRelease }
  | { kind: 'known' }
  | { kind: 'refused'; error: ChunkswarmError };

/**
 * The newest release this node knows, and the gate every gossiped head passes: a head is taken only
 * with the cluster publisher's valid signature and a version above every one already known.
 */
export class HeadBook {
  private newest: SignedRelease | null = null;
  private newestBytes: Uint8Array | null = null;
  private readonly queue = new SerialQueue();

  constructor(
    private readonly releases: ReleaseStore,
    private readonly publisherKey: Uint8Array,
  ) {}

  get clusterId(): string {
    return clusterIdOf(this.publisherKey);
  }

  get latest(): SignedRelease | null {
    return this.newest;
  }

  get latestBytes(): Uint8Array | null {
    return this.newestBytes;
  }

  /** Picks up heads stored by another process (the publish command). True if a newer one appeared. */
  reload(): Promise<boolean> {
    return this.queue.run(() => this.loadStored());
  }

  private async loadStored(): Promise<boolean> {
    const stored = await this.releases.latest();
    if (!stored || (this.newest && stored.body.version <= this.newest.body.version)) return false;
    verifyRelease(stored, this.publisherKey);
    this.set(stored);
    return true;
  }

  /** Serialized: the same head arriving from several peers at once is taken once. */
  offer(bytes: Uint8Array): Promise<HeadVerdict> {
    return this.queue.run(() => this.check(bytes));
  }

  private async check(bytes: Uint8Array): Promise<HeadVerdict> {
    let release: SignedRelease;
    try {
      release = decodeSignedRelease(bytes);
      verifyRelease(release, this.publisherKey);
    } catch (err) {
      if (isChunkswarmError(err)) return { kind: 'refused', error: err };
      throw err;
    }
    const known = this.newest?.body.version ?? 0;
    if (release.body.version < known) {
      return {
        kind: 'refused',
        error: new ChunkswarmError('E_STALE_VERSION', `release version ${release.body.version} is older than version ${known}, the newest this node has accepted`),
      };
    }
    if (release.body.version === known) {
      if (this.newest && releaseId(this.newest.body) === releaseId(release.body)) return { kind: 'known' };
      return {
        kind: 'refused',
        error: new ChunkswarmError('E_STALE_VERSION', `a different release also claims version ${known}; the first one seen is kept`),
      };
    }
    await this.releases.saveHead(release);
    this.set(release);
    return { kind: 'new', release };
  }

  private set(release: SignedRelease): void {
    this.newest = release;
    this.newestBytes = encodeSignedRelease(release);
  }
}
