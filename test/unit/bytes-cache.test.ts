import { describe, expect, it } from 'vitest';
import { BytesCache } from '../../src/core/index.js';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe('BytesCache', () => {
  it('keeps entries up to its size, dropping the least recently used first', () => {
    const c = new BytesCache<number>(100, { maxShare: 2 });
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
    const c = new BytesCache<string>(100, { maxShare: 4 });
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

  it('counts what each entry costs beside its bytes', () => {
    const c = new BytesCache<number>(100, { maxShare: 2, entryBytes: 10 });
    for (let k = 1; k <= 3; k++) c.set(k, bytes(20, k));
    expect(c.size).toBe(90);
    c.set(4, bytes(20, 4)); // 120 > 100: the least recently used goes
    expect(c.get(1)).toBeUndefined();
    expect(c.get(4)?.[0]).toBe(4);
    expect(c.size).toBe(90);
    c.delete(2);
    expect(c.size).toBe(60);
  });

  it('tells its owner of each value it no longer holds or would not hold, once, and not of one set again as it is', () => {
    const gone: number[] = [];
    const c = new BytesCache<string>(100, { maxShare: 2, dropped: (v) => gone.push(v[0]!) });
    const a = bytes(40, 1);
    c.set('a', a);
    c.set('a', a);
    expect(gone).toEqual([]);
    c.set('a', bytes(40, 2)); // replaced
    c.set('big', bytes(51, 3)); // refused
    c.set('b', bytes(40, 4));
    c.set('c', bytes(40, 5)); // evicts the second 'a'
    c.delete('b');
    c.delete('b');
    c.set('d', bytes(10, 6));
    c.clear();
    expect(gone).toEqual([1, 3, 2, 4, 5, 6]);
    expect(c.size).toBe(0);
  });

  it('matches a plain least-recently-used list over a long run of gets, sets and deletes', () => {
    const c = new BytesCache<number>(1000, { maxShare: 4 });
    // The model: keys from least to most recently used, with their sizes.
    let model: Array<{ key: number; size: number }> = [];
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let step = 0; step < 20_000; step++) {
      const key = next(60);
      const op = next(10);
      const at = model.findIndex((e) => e.key === key);
      if (op < 4) {
        const got = c.get(key);
        expect(got?.length).toBe(at < 0 ? undefined : model[at]!.size);
        if (at >= 0) model.push(...model.splice(at, 1));
      } else if (op < 9) {
        const size = 1 + next(300);
        c.set(key, bytes(size, key));
        if (size > 250) continue;
        if (at >= 0) model.splice(at, 1);
        model.push({ key, size });
        while (model.reduce((n, e) => n + e.size, 0) > 1000) model.shift();
      } else {
        c.delete(key);
        if (at >= 0) model.splice(at, 1);
      }
      expect(c.size).toBe(model.reduce((n, e) => n + e.size, 0));
    }
    model = model.filter((e) => c.get(e.key)?.[0] === e.key % 256);
    expect(c.size).toBe(model.reduce((n, e) => n + e.size, 0));
  });
});

