import { ChunkswarmError, isChunkswarmError, type ObjectHash, type ReleaseId } from '../core/index.js';
import type { SessionPeer } from './peer.js';

// Where the objects of a release come from is the swarm's business; walking them is the store's.
export { fetchObjects } from '../store/index.js';

/** Where `requestObject` may ask, and when it must give up. */
export interface ObjectSources {
  /** The release whose objects are wanted. */
  release: ReleaseId;
  peers(): readonly SessionPeer[];
  random: () => number;
  timeoutMs: number;
  /** After this long without an answer the request fails with the reasons (the caller retries later). */
  giveUpMs: number;
  /** The release was superseded or the node is closing. */
  cancelled(): boolean;
  /** The peer sent bytes that do not hash to what was asked. */
  wrongObject(p: SessionPeer, hash: ObjectHash): void;
}

/**
 * One object from whichever peer has it: a release's objects may only be on a peer that has not
 * connected yet, so rounds over the connected peers repeat until `giveUpMs`, and then the failure
 * says what each peer answered. Peers already working on the release hold all its objects, and so
 * does the publisher; the others are asked only while none is on the release.
 */
export async function requestObject(hash: ObjectHash, s: ObjectSources): Promise<Uint8Array> {
  const t0 = Date.now();
  for (let attempt = 0; ; attempt++) {
    if (s.cancelled()) throw new ChunkswarmError('E_CLOSED', 'release superseded or node closing');
    const rank = (p: SessionPeer) => (p.wire.remoteSpace?.release === s.release ? 0 : p.publisher ? 1 : 2);
    const all = [...s.peers()].sort((a, b) => rank(a) - rank(b));
    const onIt = all.filter((p) => rank(p) === 0).length;
    // While some peer is on the release, only those are asked: the others lack the objects, and a
    // node the publisher turns away (limits.objectClients) would otherwise ask every one of them
    // for every object, each round, until a peer has them.
    const candidates = onIt > 0 ? all.slice(0, onIt) : all;
    // Spread the load over the peers on the release; otherwise rotate, in case the first is stuck.
    const start = onIt > 0 ? Math.floor(s.random() * onIt) : attempt % Math.max(1, candidates.length);
    const answers = new Map<string, number>();
    for (let k = 0; k < candidates.length; k++) {
      const p = candidates[(start + k) % candidates.length]!;
      try {
        return await p.wire.requestObject(hash, s.timeoutMs);
      } catch (err) {
        if (isChunkswarmError(err, 'E_HASH_MISMATCH')) s.wrongObject(p, hash);
        const code = isChunkswarmError(err) ? err.code : 'E_IO';
        answers.set(code, (answers.get(code) ?? 0) + 1);
      }
    }
    if (Date.now() - t0 >= s.giveUpMs) {
      const told = [...answers].map(([code, n]) => `${code} from ${n}`).join(', ');
      throw ChunkswarmError.notFound(
        `object ${hash} of release ${s.release.slice(0, 12)} on any connected peer after ${Math.round((Date.now() - t0) / 1000)} s ` +
          `(${candidates.length === 0 ? 'no peer connected' : `last round: ${told}`})`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, 200 * (attempt + 1))));
  }
}
