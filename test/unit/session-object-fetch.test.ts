import { describe, expect, it } from 'vitest';
import { Bitfield, ChunkswarmError, asObjectHash, asReleaseId, type ObjectHash } from '../../src/core/index.js';
import { requestObject, type ObjectSources } from '../../src/session/object-fetch.js';
import type { SessionPeer } from '../../src/session/peer.js';
import { fakePeer } from './session-fakes.js';

const release = asReleaseId('ab'.repeat(32));
const other = asReleaseId('cd'.repeat(32));
const hash = asObjectHash('11'.repeat(32));

/** A peer that records who asked it, and answers with the object or "no such object". */
function peer(key: string, o: { on?: typeof release; publisher?: boolean; has?: boolean }, asked: string[]): SessionPeer {
  const p = fakePeer(key, o.publisher ?? false);
  if (o.on) p.wire.announce(o.on, new Bitfield(4));
  p.wire.requestObject = (h: ObjectHash) => {
    asked.push(key);
    return o.has ? Promise.resolve(Uint8Array.from([1, 2, 3])) : Promise.reject(ChunkswarmError.notFound(`object ${h}`));
  };
  return p;
}

function sources(peers: SessionPeer[], giveUpMs = 0): ObjectSources {
  return { release, peers: () => peers, random: () => 0, timeoutMs: 1000, giveUpMs, cancelled: () => false, wrongObject: () => {} };
}

describe('requestObject', () => {
  it('asks only the peers on the release while there are any, however many others it has', async () => {
    const asked: string[] = [];
    // The publisher is on the release but turns the node away (limits.objectClients); eight peers are
    // still on the previous release and lack the object.
    const peers = [
      ...Array.from({ length: 8 }, (_, i) => peer(`old${i}`, { on: other }, asked)),
      peer('pub', { on: release, publisher: true }, asked),
    ];
    const err = await requestObject(hash, sources(peers)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChunkswarmError);
    expect((err as ChunkswarmError).code).toBe('E_NOT_FOUND');
    expect(asked).toEqual(['pub']);
  });

  it('takes the object from a peer on the release after the publisher turns it away', async () => {
    const asked: string[] = [];
    const peers = [peer('old', { on: other }, asked), peer('pub', { on: release, publisher: true }, asked), peer('done', { on: release, has: true }, asked)];
    expect([...(await requestObject(hash, sources(peers)))]).toEqual([1, 2, 3]);
    expect(asked).not.toContain('old');
  });

  it('asks every connected peer while none is on the release (its objects may be anywhere)', async () => {
    const asked: string[] = [];
    const peers = [peer('a', { on: other }, asked), peer('b', {}, asked), peer('c', { on: other, has: true }, asked)];
    expect([...(await requestObject(hash, sources(peers)))]).toEqual([1, 2, 3]);
    expect(asked.sort()).toEqual(['a', 'b', 'c']);
  });
});
