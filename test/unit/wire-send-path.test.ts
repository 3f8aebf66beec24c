import { describe, expect, it } from 'vitest';
import { recordBuffers } from '../../src/core/index.js';
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

describe('the receive path of PeerWire', () => {
  /** A piece message for `index`, at `offset` of a record buffer lent by the pool, followed by `tail`. */
  function record(index: number, payload: Buffer, tail: Buffer): Buffer {
    const view = recordBuffers.lend(13 + payload.byteLength + tail.byteLength);
    view.writeUInt32BE(9 + payload.byteLength, 0);
    view[4] = 7;
    view.writeUInt32BE(index, 5);
    view.writeUInt32BE(0, 9);
    payload.copy(view, 13);
    tail.copy(view, 13 + payload.byteLength);
    return view;
  }

  it('narrows a record that is one piece message to the piece, and leaves one that holds more to the GC', async () => {
    const { a, b, streams } = await wirePair();
    const payload = Buffer.alloc(1000, 3);
    const alone = record(0, payload, Buffer.alloc(0));
    // The piece and a keep-alive in one record: the keep-alive's bytes are not the piece's.
    const mixed = record(1, payload, Buffer.alloc(4));
    // Unasked-for pieces: the wire drops them, harmlessly.
    streams[0].write(alone);
    streams[0].write(mixed);
    await new Promise((r) => setImmediate(r));
    expect(recordBuffers.bufferOf(alone.subarray(13))).toBeDefined();
    expect(recordBuffers.bufferOf(mixed.subarray(13, 1013))).toBeUndefined();
    expect(recordBuffers.bufferOf(mixed)).toBeDefined();
    expect(b.closed).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });
});
