import { describe, expect, it } from 'vitest';
import { optimizationBudgetFlag } from '../../src/cli/jit-budget.js';

describe('optimizationBudgetFlag', () => {
  it('raises V8 interrupt budget to 600,000 bytes of bytecode (V8 default: 132 KiB)', () => {
    expect(optimizationBudgetFlag([])).toBe('--interrupt-budget=600000');
    expect(optimizationBudgetFlag(['--heap-growing-percent=50', '--cpu-prof'])).toBe('--interrupt-budget=600000');
  });

  it("leaves a budget on node's own command line alone, in either spelling", () => {
    expect(optimizationBudgetFlag(['--interrupt-budget=100000'])).toBeNull();
    expect(optimizationBudgetFlag(['--cpu-prof', '--interrupt_budget=2000000'])).toBeNull();
  });

  it('does not mistake another flag for a budget', () => {
    expect(optimizationBudgetFlag(['--interrupt-budget-for-feedback-allocation=940'])).toBe('--interrupt-budget=600000');
  });
});
