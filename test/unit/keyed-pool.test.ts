import { describe, expect, it } from 'vitest';
import { KeyedPool } from '../../src/scheduler/keyed-pool.js';
import { seededRandom } from '../../src/scheduler/index.js';

describe('KeyedPool', () => {
  it('picks from the lowest key that has an acceptable piece', () => {
    const pool = new KeyedPool(10, 3);
    pool.set(1, 2);
    pool.set(2, 1);
    pool.set(3, 1);
    pool.set(4, 0);
    const random = seededRandom(7);
    expect(pool.pick(random, () => true)).toBe(4);
    expect(pool.pick(random, (i) => i !== 4)).toBeOneOf([2, 3]);
    expect(pool.pick(random, (i) => i === 1)).toBe(1);
    expect(pool.pick(random, () => false)).toBeUndefined();
  });

  it('moves a piece between keys and takes it out on null or a key beyond the pool', () => {
    const pool = new KeyedPool(5, 2);
    pool.set(0, 0);
    pool.set(1, 0);
    pool.set(0, 1);
    expect(pool.pick(seededRandom(1), () => true)).toBe(1);
    pool.set(1, null);
    expect(pool.has(1)).toBe(false);
    expect(pool.pick(seededRandom(1), () => true)).toBe(0);
    pool.set(0, 2);
    expect(pool.has(0)).toBe(false);
    expect(pool.pick(seededRandom(1), () => true)).toBeUndefined();
  });

  it('keeps every member reachable through many adds and removes', () => {
    const pool = new KeyedPool(100, 1);
    const random = seededRandom(3);
    const members = new Set<number>();
    for (let step = 0; step < 2000; step++) {
      const i = Math.floor(random() * 100);
      if (members.has(i)) {
        pool.set(i, null);
        members.delete(i);
      } else {
        pool.set(i, 0);
        members.add(i);
      }
    }
    const found = new Set<number>();
    for (const i of members) expect(pool.pick(random, (j) => j === i)).toBe(i);
    for (let k = 0; k < 100; k++) if (pool.has(k)) found.add(k);
    expect(found).toEqual(members);
    // Ties are broken at random: different starting points give different picks.
    const picks = new Set(Array.from({ length: 50 }, () => pool.pick(random, () => true)));
    expect(picks.size).toBeGreaterThan(1);
  });
});
