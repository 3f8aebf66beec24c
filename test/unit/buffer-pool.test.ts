import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/core/index.js';

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

  it('drops a free buffer too small for the view asked for, keeps at most `max`, and forgets a view not to be reused', () => {
    const pool = new BufferPool(2, (n) => n);
    const small = pool.lend(10);
    pool.giveBack(small);
    const big = pool.lend(20);
    expect(pool.bufferOf(big)!.byteLength).toBe(20);
    expect([pool.created, pool.reused]).toEqual([2, 0]);

    const views = [pool.lend(5), pool.lend(5), pool.lend(5)];
    for (const v of views) pool.giveBack(v);
    pool.lend(5);
    pool.lend(5);
    pool.lend(5);
    expect(pool.reused).toBe(2);

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
});
