import { describe, expect, it } from 'vitest';
import { RefreshSchedule, REFRESH_ALONE_MS, REFRESH_FOUND_MS, REFRESH_SETTLED_MS } from '../../src/swarm/refresh-schedule.js';

describe('RefreshSchedule', () => {
  it('looks again soon while rounds find new nodes, then slows down by halves to the settled pace', () => {
    const s = new RefreshSchedule();
    expect(s.next({ foundNew: true, peers: 3 })).toBe(REFRESH_FOUND_MS);
    expect(s.next({ foundNew: true, peers: 9 })).toBe(REFRESH_FOUND_MS);
    const quiet = [1, 2, 3, 4, 5, 6].map(() => s.next({ foundNew: false, peers: 9 }));
    expect(quiet).toEqual([4000, 8000, 16_000, REFRESH_SETTLED_MS, REFRESH_SETTLED_MS, REFRESH_SETTLED_MS]);
  });

  it('is quick again as soon as a round finds a node, however settled', () => {
    const s = new RefreshSchedule();
    for (let i = 0; i < 10; i++) s.next({ foundNew: false, peers: 5 });
    expect(s.next({ foundNew: true, peers: 6 })).toBe(REFRESH_FOUND_MS);
    expect(s.next({ foundNew: false, peers: 6 })).toBe(2 * REFRESH_FOUND_MS);
  });

  it('looks every few seconds while the node has no peer, and starts over once it has', () => {
    const s = new RefreshSchedule();
    for (let i = 0; i < 10; i++) s.next({ foundNew: false, peers: 5 });
    expect(s.next({ foundNew: false, peers: 0 })).toBe(REFRESH_ALONE_MS);
    expect(s.next({ foundNew: false, peers: 0 })).toBe(REFRESH_ALONE_MS);
    expect(s.next({ foundNew: false, peers: 1 })).toBe(2 * REFRESH_FOUND_MS);
  });
});
