import { describe, expect, it } from 'vitest';
import { isZero } from '../../src/core/index.js';

describe('isZero', () => {
  it('is true only when every byte is 0, whatever the length and where the other byte is', () => {
    expect(isZero(new Uint8Array(0))).toBe(true);
    for (const n of [1, 2, 100, 64 * 1024, 64 * 1024 + 1, 300_000]) {
      const b = new Uint8Array(n);
      expect(isZero(b), `${n} zeros`).toBe(true);
      for (const at of new Set([0, n >> 1, n - 1, Math.min(n - 1, 64 * 1024)])) {
        b[at] = 7;
        expect(isZero(b), `${n} bytes, one at ${at}`).toBe(false);
        b[at] = 0;
      }
    }
    // A view into a larger buffer looks at its own bytes only.
    const big = Buffer.alloc(1000, 1);
    big.fill(0, 100, 900);
    expect(isZero(big.subarray(100, 900))).toBe(true);
    expect(isZero(big.subarray(99, 900))).toBe(false);
  });
});
