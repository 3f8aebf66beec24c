import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Bitfield, ManualClock, asObjectHash, isChunkswarmError } from '../../src/core/index.js';
import { PeerWire, clusterInfoHash, encodeMessage, wirePeerId } from '../../src/wire/index.js';
import {
  CLUSTER,
  EXT_HANDSHAKE,
  LIMITS,
  MemoryModel,
  OUR_EXT_ID,
  btFrame,
  duplexPair,
  extFrame,
  handshakeBytes,
  next,
  pieces,
  releaseOf,
} from './wire-fixtures.js';

/**
 * One PeerWire facing a hand-driven peer: the test writes raw bytes into `raw` and the PeerWire
 * reads them; whatever the PeerWire sends is read and kept in `received`.
 */
interface Rig {
  wire: PeerWire;
  raw: Duplex;
  model: MemoryModel;
  badPeer: Promise<[string]>;
  closed: Promise<[unknown]>;
  received: Buffer[];
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.wire.close();
});

function rig(opts: { clock?: ManualClock; handshake?: boolean } = {}): Rig {
  const [ours, raw] = duplexPair();
  const model = new MemoryModel();
  const wire = new PeerWire({ stream: ours, clusterId: CLUSTER, peerId: wirePeerId('x'), model, limits: LIMITS, clock: opts.clock });
  const received: Buffer[] = [];
  raw.on('data', (b: Buffer) => received.push(b));
  if (opts.handshake !== false) raw.write(Buffer.concat([handshakeBytes(clusterInfoHash(CLUSTER)), EXT_HANDSHAKE]));
  const r = { wire, raw, model, badPeer: next<[string]>(model, 'bad-peer'), closed: next<[unknown]>(model, 'close'), received };
  rigs.push(r);
  return r;
}

async function expectDropped(r: Rig, reason: RegExp): Promise<void> {
  expect((await r.badPeer)[0]).toMatch(reason);
  const [err] = await r.closed;
  expect(isChunkswarmError(err, 'E_BAD_PEER')).toBe(true);
  expect(r.wire.closed).toBe(true);
}

describe('PeerWire against a misbehaving peer', () => {
  it('completes the handshake with a hand-made peer (the rig itself works)', async () => {
    const r = rig();
    await r.wire.ready();
    expect(r.wire.closed).toBe(false);
  });

  it('drops a peer that sends garbage after the handshake, without throwing', async () => {
    const r = rig();
    await r.wire.ready();
    r.raw.write(randomBytes(4096));
    await expectDropped(r, /message|piece|length/);
  });

  it('drops a peer whose extension message is larger than the limit before buffering it', async () => {
    const r = rig();
    await r.wire.ready();
    const header = Buffer.alloc(6);
    header.writeUInt32BE(2 + LIMITS.maxMessageBytes + 1, 0);
    header[4] = 20;
    header[5] = OUR_EXT_ID;
    r.raw.write(header); // only the header: the guard must not wait for the body
    await expectDropped(r, /extension message of \d+ bytes is outside/);
  });

  it('drops a peer that sends a malformed extension message', async () => {
    const r = rig();
    await r.wire.ready();
    r.raw.write(extFrame(OUR_EXT_ID, Buffer.from([99, 1, 2, 3])));
    await expectDropped(r, /unknown message type 99/);
  });

  it('drops a peer that sends an unchokers message of the wrong length', async () => {
    const r = rig();
    await r.wire.ready();
    r.raw.write(extFrame(OUR_EXT_ID, Buffer.from([11, 0])));
    await expectDropped(r, /unchokers message is 2 bytes, expected 3/);
  });

  it('sends no unchokers message to a peer that did not say chunkswarm_unchokers (an older node would close the connection on a type it does not know)', async () => {
    const r = rig();
    await r.wire.ready();
    await new Promise((done) => setTimeout(done, 20));
    const before = Buffer.concat(r.received).length;
    r.wire.sendUnchokers(3);
    r.wire.sendStatus({ probe: 1 });
    // The status goes out (at the end of this turn of the event loop), the count does not.
    const status = extFrame(OUR_EXT_ID, Buffer.from(encodeMessage({ type: 'status', status: { probe: 1 } })));
    await waitFor(() => Buffer.concat(r.received).length >= before + status.length);
    await new Promise((done) => setTimeout(done, 20));
    expect(Buffer.concat(r.received).subarray(before).equals(status)).toBe(true);
    expect(r.wire.closed).toBe(false);
  });

  it('drops a peer that announces a space whose bitfield does not fit', async () => {
    const r = rig();
    await r.wire.ready();
    const msg = Buffer.from(encodeMessage({ type: 'space', release: releaseOf('x'), have: fullishBitfield() }));
    r.raw.write(extFrame(OUR_EXT_ID, msg.subarray(0, msg.length - 1)));
    await expectDropped(r, /bitfield/);
  });

  it('drops a peer that sends have() before announcing a space', async () => {
    const r = rig();
    await r.wire.ready();
    r.raw.write(btFrame(4, [3]));
    await expectDropped(r, /before announcing a release/);
  });

  it('drops a peer of another cluster and fails ready()', async () => {
    const r = rig({ handshake: false });
    r.raw.write(handshakeBytes(clusterInfoHash('cd'.repeat(32))));
    await expect(r.wire.ready()).rejects.toMatchObject({ code: 'E_BAD_PEER' });
    await expectDropped(r, /another cluster/);
  });

  it('drops a peer that does not speak BitTorrent at all', async () => {
    const r = rig({ handshake: false });
    r.raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.padEnd(80, ' ')));
    await expectDropped(r, /does not speak the BitTorrent protocol/);
  });

  it('drops a peer that never completes the handshake', async () => {
    const clock = new ManualClock();
    const r = rig({ clock, handshake: false });
    r.raw.write(handshakeBytes(clusterInfoHash(CLUSTER))); // no extended handshake
    await new Promise((res) => setTimeout(res, 20));
    clock.advance(LIMITS.requestTimeoutMs);
    await expectDropped(r, /no handshake within/);
  });

  it('refuses requests out of range, past the piece\'s end or oversize, answers a part of a piece, and stays up', async () => {
    const r = rig();
    await r.wire.ready();
    const data = pieces([1000]);
    r.wire.setSpace(releaseOf('r'), r.model.addSpace(releaseOf('r'), data));
    r.raw.write(btFrame(2)); // interested
    await next(r.model, 'interested');
    r.wire.unchoke();
    r.raw.write(Buffer.concat([
      btFrame(6, [5, 0, 1000]), btFrame(6, [0, 10, 1000]), btFrame(6, [0, 0, 2_000_000]), btFrame(6, [0, 10, 990]), btFrame(6, [0, 0, 1000]),
    ]));
    await waitFor(() => r.wire.stats().piecesServed === 2);
    const sent = Buffer.concat(r.received).toString('hex');
    for (const [i, o, l] of [[5, 0, 1000], [0, 10, 1000], [0, 0, 2_000_000]]) {
      expect(sent).toContain(btFrame(0x10, [i!, o!, l!]).toString('hex'));
    }
    // The part: a piece message at offset 10 with the piece's bytes from there.
    expect(sent).toContain(btFrame(7, [0, 10], data[0]!.subarray(10)).toString('hex'));
    expect(r.model.reads).toEqual([0, 0, 0]);
    expect(r.wire.closed).toBe(false);
  });

  it('counts abuse when the peer exceeds its outstanding requests', async () => {
    const r = rig();
    await r.wire.ready();
    const n = LIMITS.maxOutstandingRequestsFromPeer;
    const release = releaseOf('r');
    r.wire.setSpace(release, r.model.addSpace(release, pieces(Array(n + 3).fill(10))));
    r.model.stall = true;
    r.wire.unchoke();
    const abuse: number[] = [];
    r.model.on('abuse', (_why, count) => abuse.push(count));
    r.raw.write(Buffer.concat([...Array(n + 3).keys()].map((i) => btFrame(6, [i, 0, 10]))));
    await waitFor(() => abuse.length === 3);
    expect(abuse).toEqual([1, 2, 3]);
    expect(r.wire.stats()).toMatchObject({ abuseCount: 3, peerRequestsInFlight: n });
    expect(r.model.reads.length).toBe(n);
  });

  it('answers getObjects past the outstanding limit with nothing, and counts abuse', async () => {
    const r = rig();
    await r.wire.ready();
    const n = LIMITS.maxOutstandingRequestsFromPeer;
    r.model.getObject = () => new Promise(() => undefined);
    const abuse: number[] = [];
    r.model.on('abuse', (_why, count) => abuse.push(count));
    const hash = asObjectHash('cd'.repeat(32));
    r.raw.write(Buffer.concat([...Array(n + 2).keys()].map((id) => extFrame(OUR_EXT_ID, encodeMessage({ type: 'getObjects', id, hashes: [hash, hash] })))));
    await waitFor(() => abuse.length === 2);
    expect(abuse).toEqual([1, 2]);
    // The two refused batches are answered at once, every item absent, so the peer asks elsewhere.
    await waitFor(() => Buffer.concat(r.received).includes(Buffer.from([10, 0, 0, 0, n + 1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])));
    expect(r.wire.closed).toBe(false);
  });
});

/** 20 pieces, some set: encoded raw (not as all/none), so cutting a byte off breaks it. */
function fullishBitfield(): Bitfield {
  const b = new Bitfield(20);
  b.set(1);
  return b;
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
