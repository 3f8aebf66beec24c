import { describe, expect, it } from 'vitest';
import { heapGrowingPercent } from '../../src/cli/heap-growth.js';

const MiB = 1024 * 1024;

describe('heapGrowingPercent', () => {
  it('lets a live set of 64-128 MiB grow by itself (twice the live set)', () => {
    expect(heapGrowingPercent(90 * MiB)).toBe(100);
    expect(heapGrowingPercent(128 * MiB)).toBe(100);
  });

  it('gives a large live set 128 MiB of room, not as much again', () => {
    expect(heapGrowingPercent(256 * MiB)).toBe(50);
    expect(heapGrowingPercent(500 * MiB)).toBe(26);
  });

  it('gives a small live set 64 MiB of room', () => {
    expect(heapGrowingPercent(32 * MiB)).toBe(200);
    expect(heapGrowingPercent(48 * MiB)).toBe(134);
    // 64 MiB on 20 MiB would be 320 %: V8's largest factor (4) bounds it.
    expect(heapGrowingPercent(20 * MiB)).toBe(300);
    expect(heapGrowingPercent(0)).toBe(300);
  });
});
