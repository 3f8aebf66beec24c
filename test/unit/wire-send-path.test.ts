import { describe, expect, it } from 'vitest';
import { SendRoom } from '../../src/wire/send-room.js';
import { duplexPair, pieces, releaseOf, wirePair } from './wire-fixtures.js';

describe('SendRoom', () => {
  it('lets answers through in order while they fit, and wakes the next when bytes are sent', async () => {
    const room = new SendRoom(100);
    const order: number[] = [];
    await room.take(60);
    const second = room.take(60).then(() => order.push(2));
    const third = room.take(10).then(() => order.push(3));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]); // 60 + 60 > 100, and the small one waits its turn behind it
    room.give(60);
    await Promise.all([second, third]);
    expect(order).toEqual([2, 3]);
  });

  it('always lets one answer through, however large, and frees everyone when closed', async () => {
    const room = new SendRoom(100);
    await room.take(500);
    const waiting = room.take(1);
    room.close();
    await waiting;
    await room.take(1000);
  });
});

describe('the send path of PeerWire', () => {
  it('writes each message whole, small ones batched, on a stream that encrypts in place, and frees the room as pieces go', async () => {
    const streams = duplexPair();
    const records: Buffer[] = [];
    for (const s of streams) {
      const write = s.write.bind(s);
      Object.assign(s, {
        alloc: (n: number) => Buffer.alloc(n),
        write: (data: Buffer) => {
          if (s === streams[0]) records.push(Buffer.from(data));
          return write(data);
        },
      });
    }
    const { a, b, modelA } = await wirePair({}, streams);
    const release = releaseOf('r');
    // More than the room holds at once (two pieces of the largest size): all go out as room frees.
    const data = pieces([70_000, 256 * 1024, 256 * 1024, 200_000, 1]);
    a.setSpace(release, modelA.addSpace(release, data));
    a.unchoke();
    await new Promise<void>((resolve) => {
      const check = (): void => (b.remoteSpace && !b.peerChoking ? resolve() : void setTimeout(check, 1));
      check();
    });
    const got = await Promise.all(data.map((d, i) => b.requestPiece(i, d.length)));
    got.forEach((g, i) => expect(Buffer.compare(g, data[i]!)).toBe(0));
    // Every record is whole messages (after the 68-byte handshake), a piece message alone in its own.
    const stream = Buffer.concat(records);
    const messages: Buffer[] = [];
    for (let at = 68; at < stream.byteLength; at += 4 + stream.readUInt32BE(at)) messages.push(stream.subarray(at, at + 4 + stream.readUInt32BE(at)));
    let boundaries = 0;
    for (const r of records) boundaries += r.byteLength;
    expect(boundaries).toBe(stream.byteLength);
    const starts = new Set<number>([68]);
    for (let at = 68; at < stream.byteLength; at += 4 + stream.readUInt32BE(at)) starts.add(at);
    let offset = 0;
    for (const r of records) {
      expect(offset === 0 || starts.has(offset)).toBe(true);
      offset += r.byteLength;
    }
    for (const r of records.filter((x) => x[4] === 7 && x.byteLength > 13)) expect(r.readUInt32BE(0) + 4).toBe(r.byteLength);
    expect(records.length).toBeLessThan(messages.length + 1);
    const pieceRecords = messages.filter((m) => m[4] === 7).map((m) => m.byteLength - 13);
    expect(pieceRecords.sort((x, y) => x - y)).toEqual([1, 70_000, 200_000, 256 * 1024, 256 * 1024]);
    await Promise.all([a.close(), b.close()]);
  });

  it('lends piece buffers through pieceBody() and reuses them only once a piece is copied into its record', async () => {
    const streams = duplexPair();
    for (const s of streams) Object.assign(s, { alloc: (n: number) => Buffer.alloc(n) });
    const { a, b, modelA } = await wirePair({}, streams);
    const release = releaseOf('r');
    const data = pieces(Array.from({ length: 40 }, (_, i) => 50_000 + i * 997));
    a.setSpace(release, modelA.addSpace(release, data));
    // A store that reads into the buffer the wire lends, as PieceServer does, a piece at a time.
    const lent = new Set<ArrayBufferLike>();
    let reused = 0;
    modelA.readPiece = async (_space, index, alloc) => {
      const out = alloc!(data[index]!.length);
      if (lent.has(out.buffer)) reused++;
      lent.add(out.buffer);
      await new Promise((r) => setImmediate(r));
      out.set(data[index]!);
      return out;
    };
    a.unchoke();
    await new Promise<void>((resolve) => {
      const check = (): void => (b.remoteSpace && !b.peerChoking ? resolve() : void setTimeout(check, 1));
      check();
    });
    // Asked all at once, twice: many pieces are read while others are on their way, and the
    // second round reads into buffers the first gave back.
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(data.map((d, i) => b.requestPiece(i, d.length)));
      got.forEach((g, i) => expect(Buffer.compare(g, data[i]!)).toBe(0));
    }
    expect(reused).toBeGreaterThan(0);
    await Promise.all([a.close(), b.close()]);
  });
});
