import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and spend much of their time waiting on them (a grace
    // period, a peer's timeout): on two cores, three files at once finished in 265 s where two took
    // 305 s (2026-12-02), each file ~1.4x slower. More would trade that for timeouts.
    maxWorkers: 3,
    // Each test file runs in a process of its own, which transformed the same src modules again:
    // ~0.15 CPU-s a file (2026-12-07). Kept under node_modules, so `npm ci` starts it afresh.
    experimental: { fsModuleCache: true },
    projects: [
      // Listed first, so that the long files start first and the unit files fill in at the end.
      {
        extends: true,
        test: { name: 'processes', include: ['test/integration/**/*.test.ts', 'test/faults/**/*.test.ts'], globalSetup: ['test/support/global-setup.ts'] },
      },
      // Pure modules and in-process fakes: one module graph per worker, not per file. A fresh
      // process per file cost ~0.4 s each, 20 s for the 55 files where the tests take 13.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
    ],
  },
});
