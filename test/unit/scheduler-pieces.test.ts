import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { PieceScheduler, seededRandom, toBitfield, type SchedulerAction, type SchedulerOptions } from '../../src/scheduler/index.js';

const KiB = 1024;

function make(count: number, options: Partial<SchedulerOptions> = {}, seed = 1, have: number[] = []) {
  const clock = new ManualClock();
  const s = new PieceScheduler({ pieceSizes: Array(count).fill(64 * KiB), have, clock, random: seededRandom(seed), options });
  return { s, clock };
}

/** Joins a peer, announces its pieces and unchokes us; returns every action that caused. */
function connect(s: PieceScheduler, peer: string, pieces: number[], unchoke = true): SchedulerAction[] {
  return [...s.peerJoined(peer), ...s.peerBitfield(peer, pieces), ...(unchoke ? s.peerUnchoked(peer) : [])];
}

const requests = (acts: SchedulerAction[], peer?: string) =>
  acts.flatMap((a) => (a.type === 'request' && (peer === undefined || a.peer === peer) ? [a.index] : []));
const range = (n: number) => [...Array(n).keys()];

describe('PieceScheduler: selection', () => {
  it('asks for the rarest piece first', () => {
    const { s } = make(4, { minRequestsPerPeer: 1, maxRequestsPerPeer: 1 });
    connect(s, 'b', [1, 2, 3], false);
    connect(s, 'c', [2, 3], false);
    connect(s, 'd', [1, 3], false);
    // Availability once a joins: 0 -> 1, 1 -> 3, 2 -> 3, 3 -> 4.
    expect(requests(connect(s, 'a', [0, 1, 2, 3]), 'a')).toEqual([0]);
  });

  it('a re-announced bitfield replaces the old one: pieces the peer no longer has are not asked of it', () => {
    const { s } = make(2, { minRequestsPerPeer: 2, maxRequestsPerPeer: 2 });
    expect(connect(s, 'b', [0, 1], false).some((a) => a.type === 'interested')).toBe(true);
    const acts = s.peerBitfield('b', []);
    expect(acts).toContainEqual({ type: 'not-interested', peer: 'b' });
    expect(requests([...acts, ...s.peerUnchoked('b')])).toEqual([]);
  });

  it('asks a peer first for what only it, of the peers unchoking us, can give', () => {
    const { s } = make(4, { minRequestsPerPeer: 1, maxRequestsPerPeer: 1 });
    // Everyone holds piece 0 but only b and c unchoke us, and c holds it: rarest overall, yet c
    // can serve it. Piece 3, less rare, only b can give now: b is asked for 3, leaving 0 to c.
    connect(s, 'x', [1, 2], false);
    connect(s, 'y', [1, 2, 3], false);
    connect(s, 'c', [0, 1, 2]);
    expect(requests(connect(s, 'b', [0, 3]), 'b')).toEqual([3]);
  });

  it('counts as sources only the peers that unchoke us, as they choke and unchoke', () => {
    const { s } = make(3, { minRequestsPerPeer: 1, maxRequestsPerPeer: 1 });
    connect(s, 'c', [0, 1]);
    s.peerChoked('c');
    // c choked us: piece 0 has no source but b, and b has it and 2 (equally rare overall).
    connect(s, 'x', [2], false);
    expect(requests(connect(s, 'b', [0, 2]), 'b')).toHaveLength(1);
    s.peerUnchoked('c');
    expect(s.peerStats('c')!.inFlight).toBe(1);
  });

  it('breaks ties at random, reproducibly for a seed', () => {
    const firstPick = (seed: number) => {
      const { s } = make(16, { minRequestsPerPeer: 1, maxRequestsPerPeer: 1 }, seed);
      connect(s, 'b', range(8), false); // pieces 8..15 are rarer
      return requests(connect(s, 'a', range(16)))[0];
    };
    const picks = range(20).map((seed) => firstPick(seed));
    expect(picks.every((p) => p !== undefined && p >= 8)).toBe(true);
    expect(new Set(picks).size).toBeGreaterThan(3);
    expect(range(20).map((seed) => firstPick(seed))).toEqual(picks);
  });

  it('by default keeps one request at a new peer, then half a second of its measured rate', () => {
    const { s, clock } = make(64, { endGameThreshold: 0, maxRequestsPerPeer: 64 });
    const [first, ...more] = requests(connect(s, 'a', range(64)));
    expect(more).toEqual([]);
    // a sends its 64 KiB in 20 ms (3.2 MB/s): half a second of that is 25 pieces.
    clock.advance(20);
    const next = requests(s.pieceReceived('a', first!, true), 'a');
    expect(next.length).toBe(25);
    expect(s.peerStats('a')!.inFlight).toBe(25);
  });

  it('never asks two peers for the same piece outside end-game', () => {
    const { s } = make(40, { endGameThreshold: 0, minRequestsPerPeer: 2, maxRequestsPerPeer: 8 });
    const acts = [...connect(s, 'a', range(40)), ...connect(s, 'b', range(40)), ...connect(s, 'c', range(40))];
    const asked = requests(acts);
    expect(asked.length).toBe(6);
    expect(new Set(asked).size).toBe(asked.length);
  });

  it('declares interest only in peers with something we lack', () => {
    const { s } = make(3, {}, 1, [0]);
    expect(connect(s, 'a', [0], false)).toEqual([]);
    expect(s.peerHave('a', 2)).toEqual([{ type: 'interested', peer: 'a' }]);
    s.peerUnchoked('a');
    expect(s.pieceReceived('a', 2, true)).toContainEqual({ type: 'not-interested', peer: 'a' });
  });

  it('reads a Uint8Array as a BitTorrent bitfield and bans an out-of-range have', () => {
    const { s } = make(10, { minRequestsPerPeer: 2, maxRequestsPerPeer: 10 });
    s.peerJoined('a');
    s.peerBitfield('a', toBitfield(10, (i) => i === 1 || i === 9));
    expect(requests(s.peerUnchoked('a')).sort()).toEqual([1, 9]);
    expect(s.peerHave('a', 10)).toEqual([expect.objectContaining({ type: 'ban', peer: 'a' })]);
  });

  it('reports missing pieces that no connected peer has', () => {
    const { s } = make(5, {}, 1, [2]);
    connect(s, 'a', [0, 1]);
    connect(s, 'b', [1]);
    expect(s.missingUnavailable()).toEqual([3, 4]);
    s.peerLeft('a');
    expect(s.missingUnavailable()).toEqual([0, 3, 4]);
  });

  it('tracks progress to completion', () => {
    const { s } = make(2, {}, 1, [1]);
    expect(s.progress()).toEqual({ have: 1, total: 2, bytesHave: 64 * KiB, bytesTotal: 128 * KiB });
    connect(s, 'a', [0]);
    expect(s.isComplete()).toBe(false);
    s.pieceReceived('a', 0, true);
    expect(s.isComplete()).toBe(true);
    expect(s.peerStats('a')).toMatchObject({ bytesReceived: 64 * KiB, piecesReceived: 1, inFlight: 0 });
  });
});

describe('PieceScheduler: failures', () => {
  it('re-requests a timed-out piece from another peer and cancels it at the slow one', () => {
    const { s, clock } = make(1, { endGameThreshold: 0, requestTimeoutMs: 5_000 });
    expect(requests(connect(s, 'a', [0]))).toEqual([0]);
    expect(requests(connect(s, 'b', [0]))).toEqual([]);
    clock.advance(4_999);
    expect(s.tick()).toEqual([]);
    clock.advance(1);
    expect(s.tick()).toEqual([{ type: 'cancel', peer: 'a', index: 0 }, { type: 'request', peer: 'b', index: 0 }]);
    expect(s.peerStats('a')?.inFlight).toBe(0);
  });

  it('retries the same peer when it is the only one that has the piece', () => {
    const { s, clock } = make(1, { requestTimeoutMs: 5_000 });
    connect(s, 'a', [0]);
    clock.advance(5_000);
    expect(s.tick()).toEqual([{ type: 'cancel', peer: 'a', index: 0 }, { type: 'request', peer: 'a', index: 0 }]);
  });

  it('drops in-flight requests of a peer that chokes us and asks others', () => {
    const { s } = make(6, { endGameThreshold: 0, minRequestsPerPeer: 3, maxRequestsPerPeer: 3 });
    const atA = requests(connect(s, 'a', range(6)));
    const atB = requests(connect(s, 'b', range(6)));
    expect(atA.length + atB.length).toBe(6);
    const after = s.peerChoked('a');
    expect(after.filter((x) => x.type === 'cancel')).toEqual([]);
    expect(s.peerStats('a')?.inFlight).toBe(0);
    // b's pipeline is full; the pieces wait for it rather than go back to a choked peer.
    expect(requests(after)).toEqual([]);
    const next = s.pieceReceived('b', atB[0] ?? -1, true);
    expect(atA).toContain(requests(next, 'b')[0]);
  });

  it('bans a peer at its first bad piece and fetches the piece elsewhere', () => {
    const { s } = make(1, { endGameThreshold: 0 });
    connect(s, 'a', [0]);
    connect(s, 'b', [0]);
    const acts = s.pieceReceived('a', 0, false);
    expect(acts[0]).toMatchObject({ type: 'ban', peer: 'a' });
    expect(acts[0]?.type === 'ban' && acts[0].reason).toMatch(/wrong hash/);
    expect(requests(acts)).toEqual([0]);
    expect(requests(acts, 'b')).toEqual([0]);
    expect(s.progress().have).toBe(0);
    expect(s.peerJoined('a')).toEqual([expect.objectContaining({ type: 'ban', peer: 'a' })]);
    expect(s.peerStats('a')).toBeUndefined();
  });

  it('does not re-ask a peer that refused a piece until a request timeout has passed', () => {
    const { s, clock } = make(1, { requestTimeoutMs: 5_000 });
    connect(s, 's', [0]);
    expect(s.pieceRejected('s', 0)).toEqual([]);
    connect(s, 'x', []);
    expect(s.peerHave('x', 0)).toEqual([{ type: 'interested', peer: 'x' }, { type: 'request', peer: 'x', index: 0 }]);
    s.peerLeft('x');
    clock.advance(5_000);
    expect(requests(s.tick(), 's')).toEqual([0]);
  });
});

describe('PieceScheduler: end-game and pipelining', () => {
  it('duplicates the last pieces across peers, then cancels the losers', () => {
    const { s, clock } = make(3, { minRequestsPerPeer: 2, maxRequestsPerPeer: 2, endGameMaxRequests: 2, endGameDelayMs: 0 });
    const atA = requests(connect(s, 'a', range(3)));
    expect(atA.length).toBe(2);
    expect(s.isEndGame()).toBe(false);
    const atB = requests(connect(s, 'b', range(3)));
    expect(s.isEndGame()).toBe(true);
    const dup = atB.find((i) => atA.includes(i));
    expect(dup).toBeDefined();
    expect(atB.filter((i) => !atA.includes(i)).length).toBe(1);
    const acts = s.pieceReceived('b', dup ?? -1, true);
    expect(acts).toContainEqual({ type: 'cancel', peer: 'a', index: dup });
    // a's freed slot duplicates the piece only b was asked for, once b is late with it: b served
    // its first piece in 1 ms and now has two queued (that one, and a's other piece, duplicated
    // at once since a has no measured rate), so it is late after twice 2 ms.
    const onlyB = atB.find((i) => i !== dup);
    expect(requests(acts, 'a')).toEqual([]);
    clock.advance(3);
    expect(requests(s.tick(), 'a')).toEqual([]);
    clock.advance(1);
    expect(requests(s.tick(), 'a')).toEqual([onlyB]);
  });

  it('in end-game, asks a second peer only once the first request has waited endGameDelayMs', () => {
    const { s, clock } = make(2, { minRequestsPerPeer: 2, maxRequestsPerPeer: 2, endGameMaxRequests: 2, endGameDelayMs: 1_000 });
    const atA = requests(connect(s, 'a', range(2)));
    expect(atA.sort()).toEqual([0, 1]);
    expect(requests(connect(s, 'b', range(2)))).toEqual([]);
    clock.advance(999);
    expect(requests(s.tick(), 'b')).toEqual([]);
    clock.advance(1);
    expect(requests(s.tick(), 'b').sort()).toEqual([0, 1]);
  });

  it('in end-game, does not duplicate a request that a slow peer is still within its time for', () => {
    const { s, clock } = make(4, { minRequestsPerPeer: 2, maxRequestsPerPeer: 2, endGameMaxRequests: 2, endGameDelayMs: 100 });
    const first = requests(connect(s, 'a', range(4)));
    clock.advance(1_000);
    // One 64 KiB piece per second: a's next request should take 1 s, the one after it 2 s.
    const next = requests(s.pieceReceived('a', first[0]!, true), 'a');
    expect(next.length).toBe(1);
    const older = first[1]!;
    const fresh = range(4).find((i) => i !== first[0] && i !== older && i !== next[0])!;
    // b gets the last fresh piece; the requests queued at a are not late yet.
    expect(requests(connect(s, 'b', range(4)), 'b')).toEqual([fresh]);
    clock.advance(999); // the older request is 1999 ms old: under twice its 1 s of expected wait
    expect(requests(s.tick(), 'b')).toEqual([]);
    clock.advance(1);
    expect(requests(s.tick(), 'b')).toEqual([older]);
  });

  it('keeps at most maxInflightBytes in flight over all peers, beyond each peer\'s minimum', () => {
    const opts = { minRequestsPerPeer: 1, maxRequestsPerPeer: 16, targetQueueMs: 1_000, maxInflightBytes: 4 * 64 * KiB, endGameThreshold: 0 };
    const { s, clock } = make(100, opts);
    const atA = requests(connect(s, 'a', range(100)));
    clock.advance(1);
    // a is fast (64 KiB per ms): its pipeline would grow to 16, the cap holds it at 4 in all.
    const more = requests(s.pieceReceived('a', atA[0]!, true));
    expect(s.peerStats('a')?.pipelineDepth).toBe(16);
    expect(s.peerStats('a')?.inFlight).toBe(4);
    expect(more.length).toBe(4);
    // A new peer still gets its one request, over the cap.
    expect(requests(connect(s, 'b', range(100)), 'b').length).toBe(1);
    // Done pieces free room for new requests, never more than the cap.
    const next = requests(s.pieceReceived('a', more[0]!, true), 'a');
    expect(next.length).toBe(0);
    expect(requests(s.pieceReceived('a', more[1]!, true), 'a').length).toBe(1);
  });

  it('lets first requests of new peers go over the in-flight cap only up to twice it', () => {
    const { s } = make(100, { minRequestsPerPeer: 1, maxInflightBytes: 4 * 64 * KiB, endGameThreshold: 0 });
    const asked = range(12).flatMap((k) => requests(connect(s, `p${k}`, range(100))));
    // Eight peers get one request each (8 x 64 KiB = twice the cap); the other four wait.
    expect(asked.length).toBe(8);
  });

  it('gives a peer that waited on the in-flight cap a request as soon as a piece makes room', () => {
    const { s } = make(4, { minRequestsPerPeer: 1, maxInflightBytes: 64 * KiB, endGameThreshold: 0 });
    expect(requests(connect(s, 'a', [0]))).toEqual([0]);
    expect(requests(connect(s, 'b', [1]))).toEqual([1]);
    expect(requests(connect(s, 'c', [2, 3]))).toEqual([]);
    // a has nothing more for us; the room its piece leaves goes to c at once, not at the next tick.
    expect(requests(s.pieceReceived('a', 0, true), 'c')).toHaveLength(1);
  });

  it('grows the pipeline of a fast peer and shrinks it for a slow or timing-out one', () => {
    const opts = { minRequestsPerPeer: 2, maxRequestsPerPeer: 16, targetQueueMs: 1_000, endGameThreshold: 0, requestTimeoutMs: 60_000 };
    const { s, clock } = make(200, opts);
    const inflight = requests(connect(s, 'a', range(200)));
    expect(inflight.length).toBe(2);
    const serve = (ms: number, times: number) => {
      for (let k = 0; k < times; k++) {
        clock.advance(ms);
        inflight.push(...requests(s.pieceReceived('a', inflight.shift() ?? -1, true)));
      }
    };
    serve(1, 5); // 64 KiB per ms
    expect(s.peerStats('a')?.pipelineDepth).toBe(16);
    expect(s.peerStats('a')?.inFlight).toBe(16);
    serve(4_000, 20); // 16 bytes per ms
    expect(s.peerStats('a')?.pipelineDepth).toBe(2);
    serve(100, 10); // 640 bytes per ms: ~10 pieces per second
    const depth = s.peerStats('a')?.pipelineDepth ?? 0;
    expect(depth).toBeGreaterThan(4);
    clock.advance(60_000);
    s.tick();
    expect(s.peerStats('a')?.pipelineDepth).toBeLessThan(depth);
  });
});
