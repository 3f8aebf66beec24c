/**
 * What a fault-suite test tried, attached to the test itself (vitest task meta) so that the
 * report (report-reporter.ts) counts only tests that ran, and a case as handled only if its test
 * passed: a test declares its cases before it checks them.
 */
import type { TestContext } from 'vitest';

export interface FaultMeta {
  kind: 'fault' | 'bad-input';
  /** The row of the report this counts under, e.g. "1 publisher killed" or "releases". */
  group: string;
  /** Cases the test checks (faults injected, inputs offered). */
  tried: number;
  /** Bytes of a release that a node lost or had wrong at the end; must be 0. */
  bytesLost?: number;
  /** Free-form figures for the report's detail lines. */
  notes?: string[];
}

declare module 'vitest' {
  interface TaskMeta {
    chunkswarmFaults?: FaultMeta;
  }
}

export function declareCases(ctx: TestContext, meta: FaultMeta): FaultMeta {
  ctx.task.meta.chunkswarmFaults = meta;
  return meta;
}
