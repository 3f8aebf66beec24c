import { describe, expect, it } from 'vitest';
import { BufferPool, RECORD_BUFFER_BYTES, recordBufferSize } from '../../src/core/index.js';

describe('BufferPool', () => {
  it('lends views at an offset, takes them back by the view, and lends the same buffer again', () => {
    const pool = new BufferPool(2, () => 100);
    const a = pool.lend(10, 4);
    expect(a.byteLength).toBe(10);
    const buf = pool.bufferOf(a)!;
    expect(buf.byteLength).toBe(100);
    expect(a.byteOffset - buf.byteOffset).toBe(4);
    expect(pool.giveBack(a)).toBe(true);
    expect(pool.giveBack(a)).toBe(false);
    expect(pool.bufferOf(a)).toBeUndefined();
    const b = pool.lend(50);
    expect(pool.bufferOf(b)).toBe(buf);
    expect([pool.created, pool.reused]).toEqual([1, 1]);
  });

  it('lends a free buffer that holds the view and is at most twice its size, keeps at most `max` (the newest), and forgets a view not to be reused', () => {
    const pool = new BufferPool(2, (n) => (n <= 10 ? 10 : n <= 20 ? 20 : 40));
    const small = pool.lend(10);
    pool.giveBack(small);
    const big = pool.lend(40);
    expect(pool.bufferOf(big)!.byteLength).toBe(40);
    expect([pool.created, pool.reused]).toEqual([2, 0]);
    // The large one is not lent for a small view (it would pin 40 bytes for 4); the small one still is.
    pool.giveBack(big);
    const four = pool.lend(4);
    expect(pool.bufferOf(four)!.byteLength).toBe(10);
    expect([pool.created, pool.reused]).toEqual([2, 1]);
    // Twice the size asked for is as good as a new one.
    const fifteen = pool.lend(15);
    expect(pool.bufferOf(fifteen)!.byteLength).toBe(40);
    expect([pool.created, pool.reused]).toEqual([2, 2]);

    const views = [pool.lend(5), pool.lend(5), pool.lend(5)];
    const given = views.map((v) => pool.bufferOf(v));
    for (const v of views) pool.giveBack(v);
    const again = [pool.lend(5), pool.lend(5), pool.lend(5)].map((v) => pool.bufferOf(v));
    expect(pool.reused).toBe(4);
    // The first of the three made way for the others.
    expect(again[0]).toBe(given[1]);
    expect(again[1]).toBe(given[2]);
    expect(given).not.toContain(again[2]);

    const kept = pool.lend(5);
    const keptBuffer = pool.bufferOf(kept);
    expect(pool.giveBack(kept, false)).toBe(true);
    const next = pool.lend(5);
    expect(pool.bufferOf(next)).not.toBe(keptBuffer);
    expect(pool.giveBack(pool.lend(8), true)).toBe(true);
    expect(pool.giveBack(Buffer.alloc(5))).toBe(false);
  });

  it('narrows a lent buffer to the part its holders keep: it comes back by that part only, and is found by it', () => {
    const pool = new BufferPool(2, () => 100);
    const lent = pool.lend(40);
    const buf = pool.bufferOf(lent)!;
    expect(pool.narrow(buf.subarray(30, 41))).toBe(false); // outside what was lent
    expect(pool.narrow(Buffer.alloc(4))).toBe(false); // not the pool's
    const kept = lent.subarray(10, 30);
    expect(pool.narrow(kept)).toBe(true);
    expect(pool.narrow(lent)).toBe(false); // wider than what may come back now
    expect(pool.bufferOf(lent)).toBeUndefined();
    expect(pool.giveBack(lent)).toBe(false);
    expect(pool.giveBack(kept.subarray(1))).toBe(false);
    // Another view of the same bytes (as a parser's subarray is) finds it.
    const same = new Uint8Array(kept.buffer, kept.byteOffset, kept.byteLength);
    expect(pool.bufferOf(same)).toBe(buf);
    expect(pool.giveBack(same)).toBe(true);
    expect(pool.giveBack(kept)).toBe(false);
    expect(pool.bufferOf(pool.lend(60))).toBe(buf);
  });

  it('sizes a record buffer by its piece size: a record of a 64 KiB piece never pins one of 1 MiB', () => {
    // A pool of its own with the record buffers' sizes: the process's pool is shared by the unit
    // files of a worker, and a free buffer up to twice the size asked is lent as it is.
    const pool = new BufferPool(8, recordBufferSize);
    const sizeOf = (bytes: number) => {
      const view = pool.lend(bytes);
      const size = pool.bufferOf(view)!.byteLength;
      pool.giveBack(view, false);
      return size;
    };
    // A piece message's header (13) and a record's framing (3 + 1 + 16) above the piece.
    expect(sizeOf(64 * 1024 + 33)).toBe(64 * 1024 + 4096);
    expect(sizeOf(512 * 1024 + 33)).toBe(512 * 1024 + 4096);
    expect(sizeOf(1024 * 1024 + 33)).toBe(RECORD_BUFFER_BYTES);
    expect(sizeOf(70_000)).toBe(128 * 1024 + 4096);
  });
});
