import { afterEach, describe, expect, it } from 'vitest';
import { Bitfield, ManualClock, asObjectHash, isChunkswarmError } from '../../src/core/index.js';
import { PeerWire, wirePeerId } from '../../src/wire/index.js';
import { CLUSTER, LIMITS, MemoryModel, duplexPair, next, pieces, releaseOf, wirePair, type Pair } from './wire-fixtures.js';

const R1 = releaseOf('release-1');
const R2 = releaseOf('release-2');
const open: Pair[] = [];

async function pair(over: Parameters<typeof wirePair>[0] = {}): Promise<Pair> {
  const p = await wirePair(over);
  open.push(p);
  return p;
}

afterEach(async () => {
  for (const p of open.splice(0)) await Promise.all([p.a.close(), p.b.close()]);
});

function code(err: unknown): string {
  return isChunkswarmError(err) ? err.code : `not a ChunkswarmError: ${String(err)}`;
}

describe('PeerWire handshake and piece spaces', () => {
  it('exchanges spaces and bitfields, then moves to a new space', async () => {
    const { a, b, modelB } = await pair();
    const have = new Bitfield(20);
    for (const i of [0, 3, 19]) have.set(i);
    const seen = next<[{ release: string; pieceCount: number }]>(modelB, 'space');
    a.setSpace(R1, have);
    const [space] = await seen;
    expect(space).toEqual({ release: R1, pieceCount: 20 });
    expect(b.remoteSpace).toEqual(space);
    expect([...Array(20).keys()].filter((i) => b.remoteHave!.get(i))).toEqual([0, 3, 19]);

    const gotHave = next<[number]>(modelB, 'have');
    a.have(7);
    expect(await gotHave).toEqual([7]);
    expect(b.remoteHave!.get(7)).toBe(true);
    // 'never': recorded, no message. Messages keep their order, so the next have seen is 11.
    const gotHave11 = next<[number]>(modelB, 'have');
    a.have(9, 'never');
    a.have(11);
    expect(await gotHave11).toEqual([11]);
    expect(b.remoteHave!.get(9)).toBe(false);
    // 'later': held back until flushHaves(), or until an unchoke, which it precedes.
    a.have(12, 'later');
    const gotHave13 = next<[number]>(modelB, 'have');
    a.have(13);
    expect(await gotHave13).toEqual([13]);
    const gotHave12 = next<[number]>(modelB, 'have');
    a.flushHaves();
    expect(await gotHave12).toEqual([12]);
    a.have(14, 'later');
    const order: string[] = [];
    modelB.on('have', (i: number) => order.push(`have ${i}`));
    const unchoked = next(modelB, 'unchoke');
    modelB.on('unchoke', () => order.push('unchoke'));
    a.unchoke();
    await unchoked;
    expect(order).toEqual(['have 14', 'unchoke']);

    const moved = next(modelB, 'space');
    a.setSpace(R2, new Bitfield(5));
    await moved;
    expect(b.remoteSpace).toEqual({ release: R2, pieceCount: 5 });
    expect(b.remoteHave!.count()).toBe(0);
    const gotHave2 = next<[number]>(modelB, 'have');
    a.have(3); // index 3 was already set in R1; in R2 it is new
    expect(await gotHave2).toEqual([3]);
    expect(a.localSpace).toEqual({ release: R2, pieceCount: 5 });
  });

  it('sends the space and haves set before the handshake finished', async () => {
    const [sa, sb] = duplexPair();
    const opts = { clusterId: CLUSTER, limits: LIMITS };
    const a = new PeerWire({ ...opts, stream: sa, model: new MemoryModel(), peerId: wirePeerId('a') });
    a.setSpace(R1, new Bitfield(10));
    a.have(4);
    const modelB = new MemoryModel();
    const b = new PeerWire({ ...opts, stream: sb, model: modelB, peerId: wirePeerId('b') });
    const seen = next(modelB, 'space');
    await Promise.all([a.ready(), b.ready()]);
    await seen;
    expect(b.remoteHave!.get(4)).toBe(true);
    expect(b.remoteHave!.count()).toBe(1);
    expect(b.remotePeerId).toBe(wirePeerId('a'));
    await a.close();
  });
});

describe('PeerWire piece transfer', () => {
  const SIZES = [1, 100, 16 * 1024, 64 * 1024 + 7, 256 * 1024];

  async function seeded(): Promise<Pair & { data: Uint8Array[] }> {
    const p = await pair();
    const data = pieces(SIZES);
    const spaceSeen = next(p.modelB, 'space');
    const unchoked = next(p.modelB, 'unchoke');
    p.a.setSpace(R1, p.modelA.addSpace(R1, data));
    p.a.unchoke();
    await Promise.all([spaceSeen, unchoked]);
    return { ...p, data };
  }

  it('transfers whole pieces of several sizes, up to 256 KiB, and counts them', async () => {
    const { a, b, data } = await seeded();
    const got = await Promise.all(data.map((d, i) => b.requestPiece(i, d.length)));
    got.forEach((g, i) => expect(Buffer.from(g).equals(Buffer.from(data[i]!))).toBe(true));
    const total = SIZES.reduce((x, y) => x + y, 0);
    expect(b.stats()).toMatchObject({ downloadedBytes: total, piecesReceived: SIZES.length, requestsInFlight: 0 });
    expect(a.stats()).toMatchObject({ uploadedBytes: total, piecesServed: SIZES.length, peerRequestsInFlight: 0 });
  });

  it('says it takes parts of pieces, and answers a part with only those bytes', async () => {
    const { a, b, data, modelA } = await seeded();
    expect(a.takesRanges && b.takesRanges).toBe(true);
    const piece = data[3]!;
    const part = await b.requestPiece(3, 1_000, 60_000);
    expect(Buffer.from(part).equals(Buffer.from(piece.subarray(60_000, 61_000)))).toBe(true);
    expect(b.stats().downloadedBytes).toBe(1_000);
    // A part beyond the piece's end: declined, the connection lives on.
    expect(code(await b.requestPiece(3, 1_000, piece.length - 10).catch((e: unknown) => e))).toBe('E_BUSY');
    expect(modelA.reads.filter((i) => i === 3)).toHaveLength(2);
    expect(Buffer.from(await b.requestPiece(0, 1)).equals(Buffer.from(data[0]!))).toBe(true);
  });

  it('hands a corrupt piece over as it came: the session verifies it where it stores it', async () => {
    const { b, modelA, data, modelB } = await seeded();
    const bad = Uint8Array.from(data[2]!);
    bad[100] = bad[100]! ^ 0xff;
    modelA.spaces.get(R1)![2] = bad;
    const badPieces: number[] = [];
    modelB.on('bad-piece', (i) => badPieces.push(i));
    expect(Buffer.from(await b.requestPiece(2, bad.length)).equals(Buffer.from(bad))).toBe(true);
    expect(badPieces).toEqual([]);
    expect(b.closed).toBe(false);
  });

  it('declines pieces it lacks or of the wrong size, and refuses out-of-range requests locally', async () => {
    const { a, b, data, modelB } = await seeded();
    const partial = new Bitfield(SIZES.length);
    partial.set(0);
    const seen = next(modelB, 'space');
    a.setSpace(R1, partial);
    await seen;
    expect(code(await b.requestPiece(1, data[1]!.length).catch((e: unknown) => e))).toBe('E_BUSY');
    expect(code(await b.requestPiece(0, data[0]!.length + 1).catch((e: unknown) => e))).toBe('E_BUSY');
    expect(code(await b.requestPiece(SIZES.length, 10).catch((e: unknown) => e))).toBe('E_NOT_FOUND');
    // the connection is still fine
    const ok = await b.requestPiece(0, data[0]!.length);
    expect(Buffer.from(ok).equals(Buffer.from(data[0]!))).toBe(true);
  });

  it('tells its model of a piece it offers but cannot read, and declines it', async () => {
    const { b, data, modelA } = await seeded();
    const length = data[1]!.length;
    modelA.spaces.set(R1, data.map((d, i) => (i === 1 ? (null as unknown as Uint8Array) : d))); // the file holding it is gone
    const told = next<[number]>(modelA, 'unreadable');
    expect(code(await b.requestPiece(1, length).catch((e: unknown) => e))).toBe('E_BUSY');
    expect(await told).toEqual([1]);
    expect(Buffer.from(await b.requestPiece(0, data[0]!.length)).equals(Buffer.from(data[0]!))).toBe(true);
  });

  it('fails pending requests with E_BUSY on choke and when the peer changes space', async () => {
    const { a, b, modelA, data, modelB } = await seeded();
    modelA.stall = true;
    const choked = next(modelB, 'choke');
    const pending = b.requestPiece(0, data[0]!.length).catch((e: unknown) => e);
    await waitFor(() => a.stats().peerRequestsInFlight === 1);
    a.choke();
    await choked;
    expect(code(await pending)).toBe('E_BUSY');
    expect(code(await b.requestPiece(0, data[0]!.length).catch((e: unknown) => e))).toBe('E_BUSY');

    a.unchoke();
    await next(modelB, 'unchoke');
    const pending2 = b.requestPiece(1, data[1]!.length).catch((e: unknown) => e);
    await waitFor(() => a.stats().peerRequestsInFlight === 1);
    a.setSpace(R2, new Bitfield(3));
    expect(code(await pending2)).toBe('E_BUSY');
    await waitFor(() => a.stats().peerRequestsInFlight === 0); // b cancelled it
  });

  it('keeps requests across a re-announce of the same release, and never blames a peer for a space race', async () => {
    const { a, b, modelA, data, modelB } = await seeded();
    const badPieces: number[] = [];
    modelB.on('bad-piece', (i) => badPieces.push(i));
    modelA.stall = true;
    const pending = b.requestPiece(0, data[0]!.length);
    await waitFor(() => a.stats().peerRequestsInFlight === 1);
    const seen = next(modelB, 'space');
    a.setSpace(R1, modelA.addSpace(R1, data)); // same release again
    await seen;
    expect(b.stats().requestsInFlight).toBe(1); // same release: indices mean the same pieces
    a.choke();
    expect(code(await pending.catch((e: unknown) => e))).toBe('E_BUSY');
    modelA.stall = false;
    a.unchoke();

    // b asks for piece 1 of R1; a reads it, but moves to R2 before the read completes
    let release!: () => void;
    modelA.hold = new Promise((r) => (release = r));
    await waitFor(() => !b.peerChoking);
    const stale = b.requestPiece(1, data[1]!.length).catch((e: unknown) => code(e));
    await waitFor(() => a.stats().peerRequestsInFlight === 1);
    const r2 = pieces(SIZES); // same sizes, other content
    a.setSpace(R2, modelA.addSpace(R2, r2));
    expect(await stale).toBe('E_BUSY');
    // b asks again, now in R2; the stale R1 read must not be sent as the answer
    const fresh = b.requestPiece(1, r2[1]!.length);
    await waitFor(() => modelA.reads.length === 3);
    release();
    expect(Buffer.from(await fresh).equals(Buffer.from(r2[1]!))).toBe(true);
    expect(badPieces).toEqual([]);
  });

  it('times out with E_TIMEOUT when the peer stalls, and cancels the request', async () => {
    const clock = new ManualClock();
    const { a, b, modelA } = await pair({ clock });
    const data = pieces([5000]);
    a.setSpace(R1, modelA.addSpace(R1, data));
    a.unchoke();
    await waitFor(() => b.remoteSpace !== null && !b.peerChoking);
    modelA.stall = true;
    const pending = b.requestPiece(0, 5000).catch((e: unknown) => e);
    await waitFor(() => a.stats().peerRequestsInFlight === 1);
    clock.advance(LIMITS.requestTimeoutMs - 1);
    expect(b.stats().requestsInFlight).toBe(1);
    clock.advance(1);
    expect(code(await pending)).toBe('E_TIMEOUT');
    expect(b.stats().requestsInFlight).toBe(0);
    await waitFor(() => a.stats().peerRequestsInFlight === 0);
  });

  it('fails everything with E_CLOSED when the connection closes', async () => {
    const { a, b, modelA, data, modelB } = await seeded();
    modelA.stall = true;
    const pending = b.requestPiece(0, data[0]!.length).catch((e: unknown) => e);
    const obj = b.requestObject(asObjectHash('00'.repeat(32)), 10_000).catch((e: unknown) => e);
    const closedB = next<[unknown]>(modelB, 'close');
    await a.close();
    expect(code(await pending)).toBe('E_CLOSED');
    expect(code(await obj)).toBe('E_CLOSED');
    expect(await closedB).toEqual([null]);
    expect(code(await b.requestPiece(0, 1).catch((e: unknown) => e))).toBe('E_CLOSED');
  });

  it('asks the upload gate and honours a refusal', async () => {
    const asked: number[] = [];
    const p = await pair();
    p.modelA.gate = (index) => (asked.push(index), index !== 1);
    const data = pieces([10, 20]);
    const seen = next(p.modelB, 'space');
    p.a.setSpace(R1, p.modelA.addSpace(R1, data));
    p.a.unchoke();
    await seen;
    await waitFor(() => !p.b.peerChoking);
    expect((await p.b.requestPiece(0, 10)).length).toBe(10);
    expect(code(await p.b.requestPiece(1, 20).catch((e: unknown) => e))).toBe('E_BUSY');
    expect(asked).toEqual([0, 1]);
    expect(p.modelA.reads).toEqual([0]);
  });
});

describe('PeerWire objects, heads and status', () => {
  it('answers an object request it has no room for with "no such object" at once, not silence', async () => {
    const p = await pair();
    const n = LIMITS.maxOutstandingRequestsFromPeer;
    const data = pieces(Array(n).fill(10));
    const ready = Promise.all([next(p.modelB, 'space'), next(p.modelB, 'unchoke')]);
    p.a.setSpace(R1, p.modelA.addSpace(R1, data));
    p.a.unchoke();
    await ready;
    p.modelA.stall = true;
    for (const [i, d] of data.entries()) void p.b.requestPiece(i, d.length).catch(() => undefined);
    await waitFor(() => p.a.stats().peerRequestsInFlight === n);
    const h = p.modelA.addObject(new TextEncoder().encode('tree object bytes'));
    // Silence would cost the asker its whole timeout before it asks another peer.
    expect(code(await p.b.requestObject(h, 5000).catch((e: unknown) => e))).toBe('E_NOT_FOUND');
  });

  it('fetches an object, reports not-found, and drops a peer that lies', async () => {
    const { a, b, modelA, modelB } = await pair();
    const bytes = new TextEncoder().encode('tree object bytes');
    const h = modelA.addObject(bytes);
    expect(Buffer.from(await b.requestObject(h, 1000)).toString()).toBe('tree object bytes');
    expect(a.stats().objectsServed).toBe(1);
    expect(code(await b.requestObject(asObjectHash('11'.repeat(32)), 1000).catch((e: unknown) => e))).toBe('E_NOT_FOUND');

    const lieHash = asObjectHash('22'.repeat(32));
    modelA.objects.set(lieHash, bytes);
    const badPeer = next<[string]>(modelB, 'bad-peer');
    const closedA = next(modelA, 'close');
    expect(code(await b.requestObject(lieHash, 1000).catch((e: unknown) => e))).toBe('E_HASH_MISMATCH');
    expect((await badPeer)[0]).toContain(lieHash);
    await closedA;
    expect(b.closed && a.closed).toBe(true);
  });

  it('an object larger than one message (LIMITS: 1 MiB) comes in parts and is verified whole', async () => {
    const { a, b, modelA } = await pair();
    const big = new Uint8Array(2.5 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);
    const h = modelA.addObject(big);
    expect(Buffer.from(await b.requestObject(h, 1000)).equals(Buffer.from(big))).toBe(true);
    expect(a.stats().objectsServed).toBe(1);
  });

  it('objects asked together travel in batches; what one answer cannot hold (LIMITS: 1 MiB) comes in the next', async () => {
    const { a, b, modelA } = await pair();
    const objs = Array.from({ length: 40 }, (_, k) => new Uint8Array(40 * 1024).map((_, i) => (i * 13 + k) & 0xff));
    const hashes = objs.map((o) => modelA.addObject(o));
    const got = await Promise.all(hashes.map((h) => b.requestObject(h, 2000)));
    expect(got.every((g, k) => Buffer.from(g).equals(Buffer.from(objs[k]!)))).toBe(true);
    expect(a.stats().objectsServed).toBe(40);
  });

  it('times out an unanswered object request', async () => {
    const clock = new ManualClock();
    const { b, modelA } = await pair({ clock });
    modelA.getObject = () => new Promise(() => undefined);
    const pending = b.requestObject(asObjectHash('33'.repeat(32)), 500).catch((e: unknown) => e);
    clock.advance(500);
    expect(code(await pending)).toBe('E_TIMEOUT');
  });

  it('gossips heads and status, and refuses to send an oversize head', async () => {
    const { a, b, modelA, modelB } = await pair();
    const head = new Uint8Array(300).map((_, i) => i & 0xff);
    const got = next<[Uint8Array]>(modelB, 'head');
    a.sendHead(head);
    expect(Buffer.from((await got)[0]).equals(Buffer.from(head))).toBe(true);
    const status = next<[unknown]>(modelA, 'status');
    b.sendStatus({ live: 7, progress: 0.5 });
    expect(await status).toEqual([{ live: 7, progress: 0.5 }]);
    expect(() => a.sendHead(new Uint8Array(LIMITS.maxMessageBytes))).toThrow(/above the limit/);
  });

  it('tells the peer how many peers unchoke us, capped at what the message carries', async () => {
    const { a, b, modelA } = await pair();
    const counts: number[] = [];
    modelA.on('unchokers', (n: number) => counts.push(n));
    b.sendUnchokers(3);
    b.sendUnchokers(0);
    b.sendUnchokers(1 << 20);
    await waitFor(() => counts.length === 3);
    expect(counts).toEqual([3, 0, 0xffff]);
    expect(a.closed).toBe(false);
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
