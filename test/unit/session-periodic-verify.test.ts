import { describe, expect, it } from 'vitest';
import { loggerOf } from '../../src/core/index.js';
import type { Deployer, VerifyResult } from '../../src/deploy/index.js';
import { PeriodicVerify } from '../../src/session/periodic-verify.js';

/** A verifier over a deployer whose verify counts its calls and finds `modified` changed files. */
function verifier(modified = 0) {
  let calls = 0;
  const warnings: string[] = [];
  const deployer = {
    verify: async (): Promise<VerifyResult> => {
      calls++;
      return { version: 3, dir: '/live', deep: false, checked: 10, hashed: 0, counts: { added: 0, removed: 0, modified, meta: 0, type: 0 }, entries: [] };
    },
  } as unknown as Deployer;
  const log = loggerOf((level, message) => {
    if (level === 'warn') warnings.push(message);
  });
  const v = new PeriodicVerify({ everyMs: 60_000, deployer, log, fail: (err) => { throw err; } });
  return { v, calls: () => calls, warnings };
}

describe('PeriodicVerify', () => {
  it('checks a seeding live tree at once, then not again within the interval', async () => {
    const { v, calls, warnings } = verifier(2);
    await v.maybeRun(false);
    expect(calls()).toBe(0);
    await v.maybeRun(true);
    await v.maybeRun(true);
    expect(calls()).toBe(1);
    expect(v.report).toMatchObject({ added: 0, removed: 0, changed: 2 });
    expect(warnings.join('\n')).toMatch(/live release 3 differs from its release: 2 modified/);
  });

  it('counts an activation as the check of the new live tree: no pass over it right after, a clean report', async () => {
    const { v, calls } = verifier(2);
    await v.maybeRun(true);
    expect(v.report?.changed).toBe(2);
    const before = Date.now();
    v.activated();
    await v.maybeRun(true);
    expect(calls()).toBe(1);
    expect(v.report).toMatchObject({ added: 0, removed: 0, changed: 0 });
    expect(Date.parse(v.report!.at)).toBeGreaterThanOrEqual(before - 1);
  });
});
