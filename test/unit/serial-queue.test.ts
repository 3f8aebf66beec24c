import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../src/core/index.js';

describe('SerialQueue', () => {
  it('runs jobs one at a time in call order, a failure not stopping the next, and says when a job must wait', async () => {
    const q = new SerialQueue();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const waited: string[] = [];
    const first = q.run(async () => {
      order.push('first starts');
      await gate;
      order.push('first ends');
      throw new Error('first fails');
    }, () => waited.push('first'));
    const second = q.run(async () => {
      order.push('second');
      return 2;
    }, () => waited.push('second'));
    expect(waited).toEqual(['second']);
    release();
    await expect(first).rejects.toThrow('first fails');
    expect(await second).toBe(2);
    expect(order).toEqual(['first starts', 'first ends', 'second']);
    // Idle again: nothing to wait for.
    expect(await q.run(async () => 3, () => waited.push('third'))).toBe(3);
    expect(waited).toEqual(['second']);
  });
});
