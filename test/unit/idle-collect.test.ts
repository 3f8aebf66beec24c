import { describe, expect, it } from 'vitest';
import { shouldCollect, type CollectState } from '../../src/cli/idle-collect.js';

const MB = 1024 * 1024;

/** Runs looks of [rss MB, idle] from a floor and returns the looks that collected. */
function run(floorMb: number, looks: Array<[number, boolean]>): number[] {
  let state: CollectState = { floor: floorMb * MB, collectedAt: null };
  const collected: number[] = [];
  looks.forEach(([rss, idle], i) => {
    const r = shouldCollect(state, rss * MB, idle);
    state = r.state;
    if (r.collect) collected.push(i);
  });
  return collected;
}

describe('collecting garbage once serve is idle', () => {
  it('waits for idleness after a burst, collects while collections give memory back, then stops', () => {
    // start 80 MB; a publish takes it to 310 (busy); idle: collect, 190, collect, 148, collect, 147: stop.
    expect(run(80, [[150, false], [310, false], [310, true], [190, true], [148, true], [147, true], [147, true], [147, true]])).toEqual([2, 3, 4]);
  });

  it('leaves small growth alone, and measures the next burst from the level the last one came back to', () => {
    expect(run(100, [[140, true], [145, true]])).toEqual([]);
    // 300: collect; it gave back 150 MB, so once more; 150 again: settled. Growth to 190 is below
    // the threshold, to 210 it is not; that one gives back 60 MB, so once more.
    expect(run(100, [[300, true], [150, true], [150, true], [190, true], [210, true], [150, true], [150, true]])).toEqual([0, 1, 4, 5]);
  });

  it('never collects while busy, and gives up a chain of collections the moment work starts again', () => {
    expect(run(80, [[400, false], [400, false], [400, false]])).toEqual([]);
    expect(run(80, [[400, true], [300, false], [300, true]])).toEqual([0]);
  });
});
