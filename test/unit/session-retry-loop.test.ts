import { describe, expect, it } from 'vitest';
import { ChunkswarmError, ManualClock } from '../../src/core/index.js';
import { RetryLoop, type AttemptOutcome } from '../../src/session/retry-loop.js';

/** A loop over a scripted attempt: each call takes the next outcome (or throws the next error). */
function scripted(outcomes: Array<AttemptOutcome | ChunkswarmError>) {
  const clock = new ManualClock();
  let calls = 0;
  const errors: Array<[string, number]> = [];
  const loop = new RetryLoop({
    clock,
    firstMs: 1000,
    maxMs: 8000,
    attempt: async () => {
      const next = outcomes[Math.min(calls++, outcomes.length - 1)]!;
      if (next instanceof ChunkswarmError) throw next;
      return next;
    },
    onError: (e, ms) => errors.push([e.code, ms]),
  });
  return { clock, loop, errors, calls: () => calls };
}

const full = new ChunkswarmError('E_NO_SPACE', 'no space left on device while staging');

describe('RetryLoop', () => {
  it('retries a failed attempt with doubling backoff, keeping the error until an attempt is done', async () => {
    const { clock, loop, errors, calls } = scripted([full, full, full, 'done']);
    loop.kick();
    await loop.idle();
    expect(loop.state.lastError?.code).toBe('E_NO_SPACE');
    expect(loop.state.retryAt).toBe(1000);
    clock.advance(999);
    expect(calls()).toBe(1);
    clock.advance(1);
    await loop.idle();
    expect(calls()).toBe(2);
    clock.advance(2000);
    await loop.idle();
    clock.advance(4000);
    await loop.idle();
    expect(calls()).toBe(4);
    expect(errors).toEqual([['E_NO_SPACE', 1000], ['E_NO_SPACE', 2000], ['E_NO_SPACE', 4000]]);
    expect(loop.state).toEqual({ lastError: null, failures: 0, retryAt: null });
  });

  it('is busy while an attempt runs, not while it waits for a retry', async () => {
    const { loop } = scripted([full, 'done']);
    expect(loop.busy).toBe(false);
    loop.kick();
    expect(loop.busy).toBe(true);
    await loop.idle();
    expect(loop.busy).toBe(false);
    expect(loop.state.retryAt).toBe(1000);
  });

  it('caps the backoff', async () => {
    const { clock, loop, errors } = scripted([full]);
    loop.kick();
    for (let i = 0; i < 6; i++) {
      await loop.idle();
      clock.advance(60_000);
    }
    await loop.idle();
    expect(errors.map(([, ms]) => ms)).toEqual([1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });

  it('an attempt that only waits keeps the last error reported', async () => {
    const { loop } = scripted([full, 'waiting']);
    loop.kick();
    await loop.idle();
    loop.kick();
    await loop.idle();
    expect(loop.state.lastError?.code).toBe('E_NO_SPACE');
    expect(loop.state.failures).toBe(1);
  });

  it('a fresh kick (an operator command) runs at once and starts the backoff over', async () => {
    const { clock, loop, errors, calls } = scripted([full, full, full]);
    loop.kick();
    await loop.idle();
    clock.advance(1000);
    await loop.idle();
    expect(errors.at(-1)).toEqual(['E_NO_SPACE', 2000]);
    loop.kick(true);
    await loop.idle();
    expect(calls()).toBe(3);
    expect(errors.at(-1)).toEqual(['E_NO_SPACE', 1000]);
    // The earlier timer was replaced: nothing runs at the old retry time.
    clock.advance(999);
    await loop.idle();
    expect(calls()).toBe(3);
  });

  it('kicks during an attempt run it once more afterwards, not once per kick', async () => {
    let release!: () => void;
    let calls = 0;
    const loop = new RetryLoop({
      clock: new ManualClock(),
      attempt: async () => {
        calls++;
        if (calls === 1) await new Promise<void>((r) => (release = r));
        return 'done';
      },
    });
    loop.kick();
    loop.kick();
    loop.kick();
    release();
    await loop.idle();
    expect(calls).toBe(2);
  });

  it('stop() cancels the pending retry', async () => {
    const { clock, loop, calls } = scripted([full]);
    loop.kick();
    await loop.idle();
    await loop.stop();
    clock.advance(10_000);
    loop.kick();
    await loop.idle();
    expect(calls()).toBe(1);
  });
});
