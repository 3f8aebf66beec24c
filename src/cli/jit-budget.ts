import { setFlagsFromString } from 'node:v8';
import { v8FlagGiven } from './v8-flag.js';

/** Bytes of bytecode a function runs before V8 considers optimizing it: V8 11.3's (node 20) default is 132 KiB. */
const SERVE_INTERRUPT_BUDGET = 600_000;

/** The V8 flag serve sets, or null where node's own command line (`execArgv`) gives a budget: that one wins. */
export function optimizationBudgetFlag(execArgv: readonly string[]): string | null {
  return v8FlagGiven(execArgv, 'interrupt-budget') ? null : `--interrupt-budget=${SERVE_INTERRUPT_BUDGET}`;
}

/**
 * serve lets a function run about four times longer than V8's default before V8 considers
 * optimizing it. A rollout makes hundreds of functions hot at once (the wire, the streams, the
 * scheduler), and every node compiles them on its own: on the benchmark machine, 33 nodes on 2
 * cores, optimizing compilation was a quarter of all CPU in a cold rollout's first 15 s and
 * 6-13 % after (perf, N=32). With the larger budget the last node was live after 42.8-44.4 s
 * (seven runs) against 45.3-52.5 s (six runs) with V8's default.
 */
export function raiseOptimizationBudget(): void {
  const flag = optimizationBudgetFlag(process.execArgv);
  if (flag !== null) setFlagsFromString(flag);
}
