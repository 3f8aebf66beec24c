import { describe, expect, it } from 'vitest';
import { BytesCache } from '../../src/core/index.js';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe('BytesCache', () => {
  it('keeps entries up to its size, dropping the least recently used first', () => {
    const c = new BytesCache<number>(100, 2);
    c.set(1, bytes(40, 1));
    c.set(2, bytes(40, 2));
    expect(c.get(1)?.[0]).toBe(1); // 1 is now the most recently used
    c.set(3, bytes(40, 3));
    expect(c.get(2)).toBeUndefined();
    expect(c.get(1)?.[0]).toBe(1);
    expect(c.get(3)?.[0]).toBe(3);
    expect(c.size).toBe(80);
  });

  it('does not keep an entry larger than its share, and replaces an entry set again', () => {
    const c = new BytesCache<string>(100, 4);
    c.set('big', bytes(26));
    expect(c.get('big')).toBeUndefined();
    c.set('a', bytes(20, 1));
    c.set('a', bytes(10, 2));
    expect(c.size).toBe(10);
    expect(c.get('a')?.[0]).toBe(2);
    c.delete('a');
    c.set('b', bytes(5));
    c.clear();
    expect(c.size).toBe(0);
    expect(c.get('b')).toBeUndefined();
  });
});
