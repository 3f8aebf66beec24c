import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { DEFAULT_SUPER_SEEDER_OPTIONS, SuperSeeder, seededRandom, type OfferAction, type SuperSeederOptions } from '../../src/scheduler/index.js';

function make(pieceCount: number, options: Partial<SuperSeederOptions> = {}, seed = 1) {
  const clock = new ManualClock();
  return { ss: new SuperSeeder({ pieceCount, clock, random: seededRandom(seed), options }), clock };
}

/** Joins a peer, reads its bitfield and (by default) unchokes it; returns the offers made to it. */
function join(ss: SuperSeeder, peer: string, pieces: number[] = [], unchoke = true): number[] {
  ss.peerJoined(peer);
  return indexes([...ss.peerBitfield(peer, pieces), ...(unchoke ? ss.peerUnchoked(peer) : [])], peer);
}

const indexes = (acts: OfferAction[], peer?: string) => acts.flatMap((a) => (peer === undefined || a.peer === peer ? [a.index] : []));

describe('SuperSeeder: offers', () => {
  it('offers each peer pieces nobody holds and nobody else was offered', () => {
    const { ss } = make(10, { offersPerPeer: 2 });
    const offered = ['a', 'b', 'c'].map((p) => join(ss, p));
    expect(offered.map((o) => o.length)).toEqual([2, 2, 2]);
    expect(new Set(offered.flat()).size).toBe(6);
    expect(ss.advertisedTo('a')).toEqual(offered[0]);
  });

  it('spreads its offer budget over the unchoked peers: deep for one, a couple each for many', () => {
    const { ss } = make(100, { offersPerPeer: 2, offerBudget: 8 });
    expect(join(ss, 'a')).toHaveLength(8);
    expect(join(ss, 'b')).toHaveLength(4);
    expect(join(ss, 'c')).toHaveLength(2);
    expect(join(ss, 'd')).toHaveLength(2);
    expect(join(ss, 'e')).toHaveLength(2); // never below offersPerPeer
  });

  it('offers the lowest (holders + open offers) first, never what the peer has', () => {
    const { ss } = make(5, { offersPerPeer: 1, copiesBeforeDefer: 10 });
    expect(join(ss, 'h1', [0, 1, 2, 3])).toEqual([4]);
    const [toH2] = join(ss, 'h2', [0, 1, 2]); // 3: one holder, 4: one open offer -> a tie
    expect([3, 4]).toContain(toH2);
    // For z, pieces 0..2 have two holders; of 3 and 4, the one just offered to h2 now scores 2.
    expect(join(ss, 'z')).toEqual([toH2 === 3 ? 4 : 3]);
  });

  it('offers a peer its next piece once it holds one it was offered', () => {
    const { ss } = make(10, { offersPerPeer: 1 });
    const [first] = join(ss, 'a');
    expect(ss.peerHave('a', (first ?? 0) === 9 ? 8 : 9)).toEqual([]); // from elsewhere: the offer stays open
    const next = indexes(ss.peerHave('a', first ?? -1));
    expect(next).toHaveLength(1);
    expect(next[0]).not.toBe(first);
  });

  it('a re-announced bitfield replaces the old one: a piece the peer lost is scarce and offered again', () => {
    const { ss } = make(3, { offersPerPeer: 3 });
    expect(join(ss, 'a', [0, 1, 2])).toEqual([]);
    // Its copy of piece 1 failed verification on disk: it announces its space again without it.
    expect(indexes(ss.peerBitfield('a', [0, 2]), 'a')).toEqual([1]);
    expect(ss.onRequest('a', 1)).toBe('serve');
  });

  it('stops offering once every piece has a copy among the peers', () => {
    const { ss } = make(3, { offersPerPeer: 3 });
    expect(join(ss, 'a').sort()).toEqual([0, 1, 2]);
    for (const i of [0, 1, 2]) expect(ss.peerHave('a', i)).toEqual([]);
    expect(join(ss, 'b')).toEqual([]);
  });

  it('once every piece is held or reserved, offers the unchoked peers second reservations of the pieces nobody holds', () => {
    const { ss } = make(2, { offersPerPeer: 1 });
    const [p] = join(ss, 'a');
    const [q] = join(ss, 'b');
    expect([p, q].sort()).toEqual([0, 1]);
    const [r] = join(ss, 'c');
    expect([0, 1]).toContain(r);
    expect(join(ss, 'd')).toEqual([r === 0 ? 1 : 0]);
    expect(join(ss, 'e')).toEqual([]); // two reservations each: tailReservations
    expect(join(ss, 'f', [], false)).toEqual([]); // a choked peer is shown no tail piece
  });

  it('gives a tail piece to the first of its reservations to ask; the other is deferred to that copy', () => {
    const { ss } = make(2, { offersPerPeer: 1, starveMs: 60_000 });
    const [p] = join(ss, 'a');
    join(ss, 'b');
    expect(join(ss, 'c')).toHaveLength(1);
    const [first, second] = ss.advertisedTo('c')[0] === p ? ['c', 'a'] : ['c', 'b'];
    const index = ss.advertisedTo('c')[0]!;
    expect(ss.onRequest(first, index)).toBe('serve');
    expect(ss.onRequest(second, index)).toBe('defer');
  });

  it('reserves a tail piece for no second peer once it is served: its copy is on its way', () => {
    const { ss } = make(2, { offersPerPeer: 1 });
    const [p] = join(ss, 'a');
    const [q] = join(ss, 'b');
    expect(ss.onRequest('a', p!)).toBe('serve');
    expect(join(ss, 'c')).toEqual([q]);
    expect(join(ss, 'd')).toEqual([]);
  });

  it('ends the other reservations of a tail piece once one peer holds it', () => {
    const { ss } = make(2, { offersPerPeer: 1, starveMs: 60_000 });
    const [p] = join(ss, 'a');
    join(ss, 'b');
    const [r] = join(ss, 'c');
    ss.peerHave(r === p ? 'a' : 'b', r!);
    // c gets it from that peer, while the other piece still has no copy anywhere.
    expect(ss.onRequest('c', r!)).toBe('defer');
  });

  it('makes no second reservation with tailReservations 1', () => {
    const { ss } = make(1, { offersPerPeer: 1, tailReservations: 1 });
    expect(join(ss, 'a')).toEqual([0]);
    expect(join(ss, 'b')).toEqual([]);
  });

  it('releases an offer not taken up in time so another peer can get the piece', () => {
    const { ss, clock } = make(1, { offerTimeoutMs: 5_000, starveMs: 60_000, tailReservations: 1 });
    expect(join(ss, 'a')).toEqual([0]);
    expect(join(ss, 'b')).toEqual([]);
    clock.advance(4_999);
    expect(ss.tick()).toEqual([]);
    clock.advance(1);
    expect(ss.tick()).toEqual([{ type: 'have', peer: 'b', index: 0 }]);
  });

  it('offers a piece it could not read for one peer to another at once', () => {
    const { ss } = make(1, { starveMs: 60_000, tailReservations: 1 });
    expect(join(ss, 'a')).toEqual([0]);
    expect(join(ss, 'b')).toEqual([]);
    expect(ss.onRequest('b', 0)).toBe('defer');
    expect(ss.withdraw('b', 0)).toEqual([]); // not offered to b: nothing to withdraw
    expect(ss.withdraw('a', 0)).toEqual([{ type: 'have', peer: 'b', index: 0 }]);
    expect(ss.onRequest('b', 0)).toBe('serve');
  });

  it('re-offers the pieces of a peer that left', () => {
    const { ss } = make(2, { offersPerPeer: 1 });
    join(ss, 'a', [0, 1]);
    expect(join(ss, 'b')).toEqual([]);
    expect(indexes(ss.peerLeft('a'), 'b')).toHaveLength(1);
  });

  it('offers a choked peer one piece to keep it interested, without reserving the piece', () => {
    const { ss } = make(1, { offersPerPeer: 2 });
    expect(join(ss, 'x', [], false)).toEqual([0]);
    expect(join(ss, 'y')).toEqual([0]);
    // Unchoked later, x finds the piece reserved for y, whose copy will reach x.
    expect(ss.peerUnchoked('x')).toEqual([]);
    expect(ss.onRequest('x', 0)).toBe('defer');
    expect(ss.onRequest('y', 0)).toBe('serve');
  });

  it('hands the reservations of a peer it chokes to a peer it has unchoked', () => {
    const { ss } = make(1, { offersPerPeer: 1, tailReservations: 1 });
    expect(join(ss, 'a')).toEqual([0]);
    expect(join(ss, 'b')).toEqual([]);
    expect(ss.peerChoked('a')).toEqual([{ type: 'have', peer: 'b', index: 0 }]);
  });

  it('offers a starving peer pieces that others hold', () => {
    const { ss, clock } = make(4, { offersPerPeer: 2, starveMs: 10_000, offerTimeoutMs: 60_000 });
    join(ss, 'a', [0, 1, 2, 3]);
    expect(join(ss, 'b')).toEqual([]);
    clock.advance(10_000);
    expect(indexes(ss.tick(), 'b')).toHaveLength(2);
  });
});

describe('SuperSeeder: serve or defer', () => {
  it('always serves a piece no peer holds', () => {
    const { ss } = make(4);
    ss.peerJoined('a');
    expect(ss.onRequest('a', 3)).toBe('serve');
  });

  it('defers a piece peers already hold while rarer ones wait, unless the requester starves', () => {
    const { ss, clock } = make(4, { starveMs: 10_000 });
    ss.peerJoined('a');
    ss.peerJoined('b');
    ss.peerHave('b', 1);
    expect(ss.onRequest('a', 1)).toBe('defer');
    clock.advance(10_000);
    expect(ss.onRequest('a', 1)).toBe('serve');
  });

  it('serves once nothing is rarer than the requested piece', () => {
    const { ss } = make(2);
    ss.peerJoined('a');
    ss.peerJoined('b');
    ss.peerBitfield('b', [0, 1]);
    expect(ss.onRequest('a', 0)).toBe('serve');
  });

  it('serves below copiesBeforeDefer copies', () => {
    const { ss } = make(3, { copiesBeforeDefer: 2 });
    for (const p of ['a', 'b', 'c']) ss.peerJoined(p);
    ss.peerHave('b', 0);
    expect(ss.onRequest('a', 0)).toBe('serve');
    ss.peerHave('c', 0);
    expect(ss.onRequest('a', 0)).toBe('defer');
  });
});

describe('SuperSeeder: a member that claims pieces nobody can have yet', () => {
  /** Piece 0 is content of the release before (a node may hold it from its own files); 1-3 are new. */
  const newContent = Uint8Array.from([0, 1, 1, 1]);
  const setUp = (withNewContent: boolean) => {
    const clock = new ManualClock();
    const ss = new SuperSeeder({ pieceCount: 4, clock, random: seededRandom(1), options: { offersPerPeer: 2 }, ...(withNewContent && { newContent }) });
    // The liar claims every piece the moment the release is announced.
    join(ss, 'liar', [0, 1, 2, 3]);
    return { ss, clock };
  };

  it('is not believed for new content: the honest peer is offered new pieces and served them', () => {
    const { ss } = setUp(true);
    const offered = join(ss, 'honest');
    expect(offered).toHaveLength(2);
    expect(offered.every((i) => i >= 1)).toBe(true);
    const notOffered = [1, 2, 3].find((i) => !offered.includes(i))!;
    expect(ss.onRequest('honest', notOffered)).toBe('serve');
    // Content of the release before may really be on the liar: that claim still counts.
    expect(ss.onRequest('honest', 0)).toBe('defer');
  });

  it('is believed once the publisher sent the piece: a copy may be out there now', () => {
    const { ss } = setUp(true);
    join(ss, 'honest');
    join(ss, 'other');
    const [sent] = ss.advertisedTo('honest');
    expect(ss.onRequest('honest', sent!)).toBe('serve');
    expect(ss.peerHave('honest', sent!)).toBeDefined();
    expect(ss.onRequest('other', sent!)).toBe('defer');
  });

  it('without newContent, every claim counts: the honest peer is offered nothing (it may only ask for what it is offered) until it starves', () => {
    const { ss, clock } = setUp(false);
    expect(join(ss, 'honest')).toEqual([]);
    expect(indexes(ss.tick(), 'honest')).toEqual([]);
    clock.advance(DEFAULT_SUPER_SEEDER_OPTIONS.starveMs);
    expect(indexes(ss.tick(), 'honest').length).toBeGreaterThan(0);
  });
});
