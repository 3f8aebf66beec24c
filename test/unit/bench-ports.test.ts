import { describe, expect, it } from 'vitest';
import { freeTcpPort, freeUdpPort } from '../../bench/lib/ports.js';

describe('ports drawn for test and bench processes', () => {
  it('never hands out the same port twice in one process, UDP or TCP', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 150; i++) ports.push(await freeUdpPort(), await freeTcpPort());
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('keeps each vitest worker in a slice of its own, below the ephemeral range', async () => {
    const pool = Number(process.env.VITEST_POOL_ID);
    expect(pool).toBeGreaterThan(0);
    const size = 1500;
    const from = 20_000 + (pool % 8) * size;
    for (let i = 0; i < 50; i++) {
      const port = await freeUdpPort();
      expect(port).toBeGreaterThanOrEqual(from);
      expect(port).toBeLessThan(from + size);
    }
  });
});
