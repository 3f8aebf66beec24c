import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and spend much of their time waiting on them (a grace
    // period, a peer's timeout): on two cores, three files at once finished in 265 s where two took
    // 305 s (2026-12-02), each file ~1.4x slower. More would trade that for timeouts.
    maxWorkers: 3,
  },
});
