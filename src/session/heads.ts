import { ChunkswarmError, SerialQueue, isChunkswarmError } from '../core/index.js';
import { clusterIdOf, decodeSignedRelease, encodeSignedRelease, releaseId, verifyRelease, type SignedRelease } from '../manifest/index.js';
import type { ReleaseStore } from '../store/index.js';

export type HeadVerdict =
  | { kind: 'new'; release: SignedRelease }
  /** The newest one again, or an older one this node holds too or never held (a peer behind): nothing to do. */
  | { kind: 'known' }
  | { kind: 'refused'; error: ChunkswarmError };

/**
 * The newest release this node knows, and the gate every gossiped head passes: a head is taken only
 * with the cluster publisher's valid signature and a version above every one already known; an
 * older one is refused only where it differs from the head this node holds under its number.
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
    const { version } = release.body;
    if (version <= known) {
      // A peer still on an older release announces it: normal in every rollout and at every
      // restart of a node that was ahead (a master warned once per follower behind it). Only
      // another release under a number this node holds is a fork: two masters, or one restored.
      const mine = version === known ? this.newest : await this.releases.head(version).catch(() => null);
      if (mine === null || releaseId(mine.body) === releaseId(release.body)) return { kind: 'known' };
      return {
        kind: 'refused',
        error: new ChunkswarmError(
          'E_STALE_VERSION',
          `a different release also claims version ${version}${version < known ? ` (this node is on ${known})` : ''}; the first one seen is kept ` +
            '(is a second master running with the same key, or one restored from an old backup?)',
        ),
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
