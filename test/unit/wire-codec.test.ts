import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Bitfield, asObjectHash, asReleaseId, isChunkswarmError } from '../../src/core/index.js';
import { clusterInfoHash, decodeMessage, encodeMessage, type ExtMessage } from '../../src/wire/index.js';
import { FrameGuard } from '../../src/wire/frame-guard.js';
import { MAX_BATCH_OBJECTS, MAX_UNCHOKERS } from '../../src/wire/messages.js';
import { CLUSTER, btFrame, extFrame, handshakeBytes } from './wire-fixtures.js';

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const bitfield = fc
  .integer({ min: 0, max: 200 })
  .chain((n) => fc.tuple(fc.constant(n), fc.array(fc.boolean(), { minLength: n, maxLength: n })))
  .map(([n, bits]) => {
    const b = new Bitfield(n);
    bits.forEach((on, i) => on && b.set(i));
    return b;
  });
const message: fc.Arbitrary<ExtMessage> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((release) => ({ type: 'head' as const, release })),
  fc.tuple(fc.nat({ max: 0xffffffff }), hex64, fc.nat({ max: 0xffffffff })).map(([id, h, offset]) => ({ type: 'getObject' as const, id, hash: asObjectHash(h), offset })),
  fc
    .tuple(fc.nat({ max: 0xffffffff }), fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 1 << 30 }), fc.nat({ max: 1 << 30 }))
    .map(([id, bytes, offset, extra]) => ({ type: 'object' as const, id, total: offset + bytes.length + extra, offset, bytes })),
  fc.nat({ max: 0xffffffff }).map((id) => ({ type: 'noObject' as const, id })),
  fc.tuple(fc.nat({ max: 0xffffffff }), fc.array(hex64, { maxLength: 20 })).map(([id, hs]) => ({ type: 'getObjects' as const, id, hashes: hs.map(asObjectHash) })),
  fc
    .tuple(fc.nat({ max: 0xffffffff }), fc.array(fc.option(fc.uint8Array({ maxLength: 100 }), { nil: null }), { maxLength: 20 }))
    .map(([id, items]) => ({ type: 'objects' as const, id, items })),
  fc.tuple(hex64, bitfield).map(([r, have]) => ({ type: 'space' as const, release: asReleaseId(r), have })),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string(), fc.boolean())).map((status) => ({ type: 'status' as const, status })),
  fc.nat({ max: MAX_UNCHOKERS }).map((count) => ({ type: 'unchokers' as const, count })),
);

describe('extension messages', () => {
  it('decode(encode(m)) gives m back', () => {
    fc.assert(
      fc.property(message, (m) => {
        const back = decodeMessage(encodeMessage(m), 1 << 20);
        if (m.type === 'space' && back.type === 'space') {
          expect(back.release).toBe(m.release);
          expect(Buffer.from(back.have.bytes).equals(Buffer.from(m.have.bytes))).toBe(true);
          expect(back.have.length).toBe(m.have.length);
        } else {
          expect(back).toEqual(m);
        }
      }),
    );
  });

  it('never throws anything but E_PROTOCOL on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          decodeMessage(bytes, 1000);
        } catch (err) {
          expect(isChunkswarmError(err, 'E_PROTOCOL')).toBe(true);
        }
      }),
    );
  });

  it('refuses batches above MAX_BATCH_OBJECTS and answers whose items do not add up', () => {
    const tooMany = Buffer.alloc(7 + 32 * (MAX_BATCH_OBJECTS + 1));
    tooMany[0] = 9;
    tooMany.writeUInt16BE(MAX_BATCH_OBJECTS + 1, 5);
    expect(() => decodeMessage(tooMany, 1000)).toThrow(/above the limit of 256/);
    const answer = Buffer.from(encodeMessage({ type: 'objects', id: 1, items: [new Uint8Array(10), null] }));
    expect(() => decodeMessage(answer.subarray(0, answer.length - 1), 1000)).toThrow(/runs past its end|ends inside/);
    expect(() => decodeMessage(Buffer.concat([answer, Buffer.from([0])]), 1000)).toThrow(/after its 2 items/);
    const asked = Buffer.from(encodeMessage({ type: 'getObjects', id: 1, hashes: [asObjectHash('ab'.repeat(32))] }));
    expect(() => decodeMessage(asked.subarray(0, asked.length - 1), 1000)).toThrow(/expected 39/);
  });

  it('carries an unchokers count in 3 bytes, and refuses any other length or a count it cannot carry', () => {
    const m = Buffer.from(encodeMessage({ type: 'unchokers', count: 300 }));
    expect(m.length).toBe(3);
    expect(decodeMessage(m, 1000)).toEqual({ type: 'unchokers', count: 300 });
    expect(() => decodeMessage(m.subarray(0, 2), 1000)).toThrow(/unchokers message is 2 bytes, expected 3/);
    expect(() => decodeMessage(Buffer.concat([m, Buffer.from([0])]), 1000)).toThrow(/expected 3/);
    for (const count of [-1, 1.5, MAX_UNCHOKERS + 1]) expect(() => encodeMessage({ type: 'unchokers', count })).toThrow(/unchokers count/);
  });

  it('refuses a space larger than maxPieces even when sent as all-set', () => {
    const m = encodeMessage({ type: 'space', release: asReleaseId('ab'.repeat(32)), have: Bitfield.full(5000) });
    expect(m.length).toBeLessThan(50);
    expect(() => decodeMessage(m, 4999)).toThrow(/above the limit of 4999/);
  });
});

describe('Bitfield', () => {
  it('counts, rejects stray bits and fills only its length', () => {
    const full = Bitfield.full(11);
    expect(full.count()).toBe(11);
    expect([...full.bytes]).toEqual([0xff, 0xe0]);
    expect(() => new Bitfield(11, Uint8Array.from([0, 0x10]))).toThrow(/past its 11 pieces/);
    expect(() => new Bitfield(11, Uint8Array.from([0]))).toThrow(/does not fit/);
    const b = new Bitfield(9);
    expect(b.set(8)).toBe(true);
    expect(b.set(8)).toBe(false);
    expect(b.get(8) && !b.get(7) && !b.get(9)).toBe(true);
    expect(() => b.set(9)).toThrow();
  });
});

describe('FrameGuard', () => {
  const infoHash = clusterInfoHash(CLUSTER);
  const limits = { maxExtendedBytes: 1000, maxPieceBytes: 5000 };
  const good = Buffer.concat([
    handshakeBytes(infoHash),
    Buffer.alloc(4), // keep-alive
    btFrame(1),
    btFrame(4, [7]),
    btFrame(6, [1, 0, 4000]),
    btFrame(7, [1, 0], Buffer.alloc(5000)),
    extFrame(1, Buffer.alloc(1000)),
    btFrame(0x10, [1, 0, 4000]),
  ]);

  function verdict(bytes: Buffer, cuts: number[], delivered: Uint8Array[] = []): string | null {
    const g = new FrameGuard(infoHash, limits);
    let last: string | null = null;
    let from = 0;
    for (const at of [...cuts.filter((c) => c < bytes.length)].sort((x, y) => x - y).concat(bytes.length)) {
      last = g.feed(bytes.subarray(from, at), (m) => delivered.push(m));
      from = at;
    }
    return last;
  }

  it('accepts a valid stream however it is split into chunks, and delivers it as whole messages', () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: good.length }), { maxLength: 40 }), (cuts) => {
      const delivered: Uint8Array[] = [];
      return verdict(good, cuts, delivered) === null && delivered.length === 8 && Buffer.concat(delivered).equals(good);
    }));
  });

  it('delivers a message that lies inside one chunk as a view of it, without a copy', () => {
    const delivered: Uint8Array[] = [];
    verdict(good, [], delivered);
    expect(delivered.every((m) => m.buffer === good.buffer)).toBe(true);
  });

  it('rejects each kind of bad frame however it is split', () => {
    const bad: Array<[Buffer, RegExp]> = [
      [btFrame(7, [1, 0], Buffer.alloc(5001)), /piece message/],
      [extFrame(1, Buffer.alloc(1001)), /extension message/],
      [btFrame(5, [], Buffer.alloc(3)), /unexpected message id 5/],
      [btFrame(4, [1, 2]), /id 4 has length 9/],
    ];
    for (const [frame, reason] of bad) {
      const bytes = Buffer.concat([good, frame]);
      fc.assert(fc.property(fc.array(fc.nat({ max: bytes.length }), { maxLength: 20 }), (cuts) => reason.test(verdict(bytes, cuts) ?? '')));
    }
    expect(verdict(handshakeBytes(clusterInfoHash('other')), [])).toMatch(/another cluster/);
    expect(verdict(handshakeBytes(infoHash, [0, 0, 0, 0, 0, 0, 0, 0x04]), [])).toMatch(/lacks the extension protocol/);
  });
});
