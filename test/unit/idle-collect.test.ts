import { describe, expect, it } from 'vitest';
import { initialCollectState, shouldCollect } from '../../src/cli/idle-collect.js';

const MB = 1024 * 1024;

/** Runs looks of [rss MB, idle] from a floor and returns the looks that collected. */
function run(floorMb: number, looks: Array<[number, boolean]>): number[] {
  let state = initialCollectState(floorMb * MB);
  const collected: number[] = [];
  looks.forEach(([rss, idle], i) => {
    const r = shouldCollect(state, rss * MB, idle);
    state = r.state;
    if (r.collect) collected.push(i);
  });
  return collected;
}

describe('collecting garbage once serve is idle', () => {
  it('waits for three idle looks after a burst, collects while collections give memory back, then stops', () => {
    // start 80 MB; a publish takes it to 310 (busy); idle three looks: collect; 190: again; 148: again; 147: stop.
    expect(run(80, [[150, false], [310, false], [310, true], [310, true], [310, true], [190, true], [148, true], [147, true], [147, true]])).toEqual([4, 5, 6]);
  });

  it('leaves small growth alone, and measures the next burst from the level the last one came back to', () => {
    expect(run(100, [[140, true], [145, true], [145, true], [145, true]])).toEqual([]);
    // 300 after three idle looks: collect; it gave back 150 MB, so once more; 150 again: settled.
    // Growth to 190 is below the threshold, to 210 it is not; that one gives back 60 MB, so once more.
    expect(run(100, [[300, true], [300, true], [300, true], [150, true], [150, true], [190, true], [210, true], [150, true], [150, true]])).toEqual([2, 3, 6, 7]);
  });

  it('never collects while busy or between steps of work that comes in steps, and stops a chain when work starts again', () => {
    expect(run(80, [[400, false], [400, false], [400, false]])).toEqual([]);
    // Busy, idle for two looks, busy again, ...: no collection.
    expect(run(80, [[400, false], [400, true], [400, true], [420, false], [420, true], [420, true], [440, false]])).toEqual([]);
    expect(run(80, [[400, true], [400, true], [400, true], [300, false], [300, true]])).toEqual([2]);
  });
});
