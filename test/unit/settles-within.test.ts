import { describe, expect, it } from 'vitest';
import { ManualClock, settlesWithin } from '../../src/core/index.js';

const flush = () => new Promise((r) => setImmediate(r));

describe('settlesWithin', () => {
  it('is true for a promise that resolves or rejects in time, false for one that does not', async () => {
    const clock = new ManualClock();
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const resolved = settlesWithin(new Promise<void>((r) => { resolve = r; }), 1000, clock);
    const rejected = settlesWithin(new Promise<void>((_r, j) => { reject = j; }), 1000, clock);
    const never = settlesWithin(new Promise<void>(() => undefined), 1000, clock);
    clock.advance(999);
    resolve();
    reject(new Error('gone'));
    await flush();
    clock.advance(1);
    expect(await resolved).toBe(true);
    expect(await rejected).toBe(true);
    expect(await never).toBe(false);
  });

  it('gives up at the deadline, whatever the promise does later', async () => {
    const clock = new ManualClock();
    let resolve!: () => void;
    const late = settlesWithin(new Promise<void>((r) => { resolve = r; }), 500, clock);
    clock.advance(500);
    resolve();
    expect(await late).toBe(false);
  });
});
