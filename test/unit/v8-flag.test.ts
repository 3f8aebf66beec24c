import { describe, expect, it } from 'vitest';
import { v8FlagGiven } from '../../src/cli/v8-flag.js';

describe('v8FlagGiven', () => {
  it("finds a V8 flag on node's command line, with a value or without, '-' or '_' anywhere in it", () => {
    expect(v8FlagGiven(['--heap-growing-percent=50'], 'heap-growing-percent')).toBe(true);
    expect(v8FlagGiven(['--cpu-prof', '--heap_growing-percent', '50'], 'heap-growing-percent')).toBe(true);
    expect(v8FlagGiven(['--heap_growing_percent=0'], 'heap-growing-percent')).toBe(true);
  });

  it('does not take another flag, or a flag that only starts with the name, for it', () => {
    expect(v8FlagGiven([], 'heap-growing-percent')).toBe(false);
    expect(v8FlagGiven(['--max-old-space-size=512', '--cpu-prof'], 'heap-growing-percent')).toBe(false);
    expect(v8FlagGiven(['--interrupt-budget-for-feedback-allocation=940'], 'interrupt-budget')).toBe(false);
    expect(v8FlagGiven(['heap-growing-percent'], 'heap-growing-percent')).toBe(false);
  });
});
