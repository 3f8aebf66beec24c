import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/scheduler/index.js';
import { runSwarm, type SimConfig } from './scheduler-swarm-sim.js';

const KiB = 1024;

/** Chunk sizes as FastCDC would give for a small change: 16..256 KiB, mostly around 64 KiB. */
function chunkSizes(count: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: count }, () => Math.min(256 * KiB, Math.round(16 * KiB + -Math.log(1 - r()) * 48 * KiB)));
}

function config(seed: number, superSeed: boolean): SimConfig {
  return { seed, pieceSizes: chunkSizes(120, seed), leechers: 6, uploadPerTick: 64 * KiB, tickMs: 100, maxTicks: 3_000, superSeed };
}

describe('swarm simulation: 1 publisher + 6 frontends', () => {
  for (const seed of [1, 2, 3]) {
    it(`every frontend completes and the publisher uploads under two copies (seed ${seed})`, () => {
      const r = runSwarm(config(seed, true));
      const total = Object.values(r.uploaded).reduce((a, b) => a + b, 0);
      console.log(`seed ${seed}: ${r.ticks} ticks, publisher ${(r.uploaded.S ?? 0) / r.contentBytes} copies`, r.uploaded);
      expect(r.complete).toBe(true);
      // Every piece must leave the publisher at least once: the frontends start with nothing.
      expect(r.uploaded.S).toBeGreaterThanOrEqual(r.contentBytes);
      expect(r.uploaded.S).toBeLessThan(2 * r.contentBytes);
      // Six frontends each received the whole content; somebody uploaded it.
      expect(total).toBeGreaterThanOrEqual(6 * r.contentBytes);
    });
  }

  it('super-seeding is what keeps the publisher near one copy', () => {
    const plain = runSwarm(config(1, false));
    const seeded = runSwarm(config(1, true));
    console.log(`plain seeding: ${plain.ticks} ticks, publisher ${(plain.uploaded.S ?? 0) / plain.contentBytes} copies`);
    expect(plain.complete).toBe(true);
    expect(seeded.uploaded.S).toBeLessThan(plain.uploaded.S ?? 0);
  });

  it('is deterministic for a seed', () => {
    expect(runSwarm(config(5, true))).toEqual(runSwarm(config(5, true)));
  });
});
