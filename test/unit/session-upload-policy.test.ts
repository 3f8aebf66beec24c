import { describe, expect, it } from 'vitest';
import { asChunkHash, asReleaseId, Bitfield, ManualClock } from '../../src/core/index.js';
import type { Piece } from '../../src/manifest/index.js';
import { seededRandom } from '../../src/scheduler/index.js';
import type { SessionPeer } from '../../src/session/peer.js';
import { UploadPolicy } from '../../src/session/upload-policy.js';
import { fakePeer, type FakeWire } from './session-fakes.js';

const R = asReleaseId('ab'.repeat(32));
const OTHER = asReleaseId('cd'.repeat(32));
type Peer = SessionPeer & { wire: FakeWire };

function setup(publisher: boolean, uploadSlots = 2) {
  const peers = new Map<string, SessionPeer>();
  const policy = new UploadPolicy(peers, { publisher, uploadSlots, clock: new ManualClock(), random: seededRandom(3) });
  const connect = (key: string): Peer => {
    const p = fakePeer(key);
    peers.set(key, p);
    policy.peerReady(p);
    return p;
  };
  return { peers, policy, connect };
}

const held = (b: Bitfield | null) => [...Array(b?.length ?? 0).keys()].filter((i) => b!.get(i));

describe('UploadPolicy on a follower', () => {
  it('announces its space and each piece it gains to the peers on that space, and unchokes interested peers up to its slots', () => {
    const { policy, connect } = setup(false);
    const a = connect('a');
    const have = new Bitfield(8);
    have.set(2);
    policy.setSpace({ release: R, version: 1, have });
    const b = connect('b');
    expect(held(a.wire.localHave)).toEqual([2]);
    expect(b.wire.localSpace).toEqual({ release: R, pieceCount: 8 });

    policy.gained(5);
    expect(held(a.wire.localHave)).toEqual([2, 5]);
    b.wire.setSpace(OTHER, new Bitfield(1)); // b moved elsewhere meanwhile: it is not told
    policy.gained(6);
    expect(held(b.wire.localHave)).toEqual([]);

    const c = connect('c');
    for (const p of [a, b, c]) policy.interested(p.key, true);
    const unchoked = [a, b, c].filter((p) => !p.wire.amChoking);
    // Two regular slots plus the optimistic one.
    expect(unchoked.length).toBe(3);
    expect(policy.allow('a', 0)).toBe(true);
  });
  it('tells a peer of a piece it gains only if the peer lacks it, a peer waiting for a slot at the next tick, the others and the publisher at once', () => {
    const { policy, peers } = setup(false);
    policy.setSpace({ release: R, version: 1, have: new Bitfield(8) });
    const holds5 = new Bitfield(8);
    holds5.set(5);
    const keys = ['u1', 'u2', 'u3', 'waiting', 'uninterested', 'holds'];
    const all = new Map(keys.map((k) => [k, fakePeer(k)]));
    const pub = fakePeer('pub', true);
    for (const p of [...all.values(), pub]) {
      peers.set(p.key, p);
      policy.peerReady(p);
      p.wire.announce(R, p.key === 'holds' ? holds5 : new Bitfield(8));
    }
    // Two regular slots and the optimistic one fill up; the fourth interested peer waits.
    for (const k of ['u1', 'u2', 'u3', 'waiting']) policy.interested(k, true);
    const peer = (k: string) => all.get(k)!;
    const [u1, waiting, uninterested, holds] = [peer('u1'), peer('waiting'), peer('uninterested'), peer('holds')];
    expect(u1.wire.amChoking).toBe(false);
    expect(waiting.wire.amChoking).toBe(true);
    expect(uninterested.wire.amChoking).toBe(true);

    policy.gained(5);
    expect(u1.wire.told).toEqual([5]);
    expect(pub.wire.told).toEqual([5]);
    // Choked but not interested: the piece may be what makes it interested.
    expect(uninterested.wire.told).toEqual([5]);
    expect(holds.wire.told).toEqual([]);
    expect(waiting.wire.told).toEqual([]);
    policy.gained(6);
    policy.tick();
    expect(waiting.wire.told).toEqual([5, 6]);
    expect(holds.wire.told).toEqual([6]);
    // Untold, the piece is still ours towards that peer: a later space message carries it.
    expect(held(holds.wire.localHave)).toEqual([5, 6]);
  });
  it('unchokes the new connection of a peer that reconnected, which starts choked, once it is interested', () => {
    const { policy, connect } = setup(false);
    policy.setSpace({ release: R, version: 1, have: Bitfield.full(8) });
    const first = connect('a');
    policy.interested('a', true);
    expect(first.wire.amChoking).toBe(false);
    // PeerTable replaces the connection without a peerLeft: the old one's close is ignored.
    const second = connect('a');
    expect(second.wire.amChoking).toBe(true);
    policy.interested('a', true);
    expect(second.wire.amChoking).toBe(false);
  });
});

describe('UploadPolicy on the publisher', () => {
  it('shows an empty bitfield, offers pieces to the peers, and defers a piece another peer holds', () => {
    const { policy, connect } = setup(true, 1);
    const a = connect('a');
    const b = connect('b');
    policy.setSpace({ release: R, version: 1, have: Bitfield.full(256) });
    expect(a.wire.localSpace).toEqual({ release: R, pieceCount: 256 });
    expect(held(a.wire.localHave)).toEqual([]);
    a.wire.announce(R, new Bitfield(256));
    policy.remoteSpace(a);
    const bHas = new Bitfield(256);
    bHas.set(10);
    b.wire.announce(R, bHas);
    policy.remoteSpace(b);
    // Choked, a is shown one piece, so that it becomes interested.
    expect(held(a.wire.localHave)).toHaveLength(1);
    policy.interested('a', true);
    const offered = held(a.wire.localHave);
    expect(offered.length).toBeGreaterThan(1);
    expect(offered).not.toContain(10);
    expect(policy.allow('a', offered[0]!)).toBe(true);
    // b can give piece 10 to a: the publisher's egress is kept for what nobody has.
    expect(policy.allow('a', 10)).toBe(false);
  });

  it('does not believe a claim of new content before it sent the piece: a member claiming a whole new release is not deferred to', () => {
    const chunk = (name: string) => ({ hash: asChunkHash(name.repeat(64).slice(0, 64)), size: 10 });
    const piece = (name: string): Piece => ({ size: 10, chunks: [chunk(name)] });
    const { policy, connect } = setup(true, 4);
    policy.setSpace({ release: OTHER, version: 1, have: Bitfield.full(4), pieces: ['a', 'b', 'c', 'd'].map(piece) });
    // Release 2 keeps release 1's chunk "a" (piece 0, which a node may hold already) and adds 200
    // new ones, more than the publisher offers one peer at a time.
    const N = 201;
    const pieces = [piece('a'), ...[...Array(N - 1).keys()].map((i) => piece(i.toString(16).padStart(4, '0')))];
    policy.setSpace({ release: R, version: 2, have: Bitfield.full(N), pieces });
    const liar = connect('liar');
    const honest = connect('honest');
    liar.wire.announce(R, Bitfield.full(N));
    policy.remoteSpace(liar);
    honest.wire.announce(R, new Bitfield(N));
    policy.remoteSpace(honest);
    policy.interested('honest', true);
    const offered = held(honest.wire.localHave);
    expect(offered.length).toBeGreaterThan(1);
    expect(offered).not.toContain(0);
    const notOffered = [...Array(N).keys()].find((i) => i > 0 && !offered.includes(i))!;
    expect(policy.allow('honest', notOffered)).toBe(true);
    // Old content may really be on the liar: that claim counts while new pieces wait.
    expect(policy.allow('honest', 0)).toBe(false);
  });

  it('does not count the copies of a member others banned, so it does not defer to it', () => {
    const N = 512; // well beyond the offers one peer holds
    for (const banned of [false, true]) {
      const { policy, connect } = setup(true, 4);
      policy.setSpace({ release: R, version: 1, have: Bitfield.full(N) });
      const liar = connect('liar');
      const honest = connect('honest');
      if (banned) policy.distrust(['liar']);
      const claimed = new Bitfield(N);
      for (let i = 0; i < N / 2; i++) claimed.set(i); // claims half the pieces
      liar.wire.announce(R, claimed);
      policy.remoteSpace(liar);
      honest.wire.announce(R, new Bitfield(N));
      policy.remoteSpace(honest);
      policy.interested('honest', true);
      const claimedNotOffered = [...Array(N / 2).keys()].find((i) => !honest.wire.localHave!.get(i))!;
      // Believed, the liar would hold the only copy of it, and the publisher would defer to it.
      expect(policy.allow('honest', claimedNotOffered), `liar distrusted: ${banned}`).toBe(banned);
    }
  });
});
