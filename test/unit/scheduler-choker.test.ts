import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { Choker, RateMeter, seededRandom, type ChokeAction } from '../../src/scheduler/index.js';

function swarm(rates: number[], opts: { seed?: number; seeding?: boolean; slots?: number; rank?: 'rate' | 'rotate' } = {}) {
  const clock = new ManualClock();
  const c = new Choker({ clock, random: seededRandom(opts.seed ?? 1), seeding: opts.seeding ?? false, options: { uploadSlots: opts.slots ?? 3, rank: opts.rank ?? 'rate', evaluateIntervalMs: 10_000 } });
  const ids = rates.map((_, i) => `p${i}`);
  for (const id of ids) c.peerJoined(id);
  rates.forEach((r, i) => c.updateRates(`p${i}`, { download: r, upload: 100 - r }));
  return { c, clock, ids };
}

const unchoked = (c: Choker, ids: string[]) => ids.filter((id) => c.isUnchoked(id));

/** All peers get interested at once; the next round (10 s later) ranks them all. */
function interestAllAndRank(c: Choker, clock: ManualClock, ids: string[]): void {
  for (const id of ids) c.peerInterested(id, true);
  clock.advance(10_000);
  c.tick();
}

describe('Choker', () => {
  it('gives the regular slots to the peers that upload most to us, plus one optimistic', () => {
    const { c, clock, ids } = swarm([10, 60, 20, 50, 30, 40]);
    interestAllAndRank(c, clock, ids);
    const on = unchoked(c, ids);
    expect(on).toEqual(expect.arrayContaining(['p1', 'p3', 'p5']));
    expect(on.length).toBe(4);
    expect(['p0', 'p2', 'p4']).toContain(c.optimisticPeer());
  });

  it('ranks by upload rate to them when seeding', () => {
    const { c, clock, ids } = swarm([10, 60, 20, 50, 30, 40], { seeding: true });
    interestAllAndRank(c, clock, ids);
    expect(unchoked(c, ids)).toEqual(expect.arrayContaining(['p0', 'p2', 'p4']));
    expect(['p1', 'p3', 'p5']).toContain(c.optimisticPeer());
  });

  it('never unchokes an uninterested peer and fills a free slot as soon as a peer gets interested', () => {
    const { c, ids } = swarm([90, 10, 20]);
    expect(c.tick()).toEqual([]);
    expect(c.peerInterested('p1', true)).toEqual([{ type: 'unchoke', peer: 'p1' }]);
    expect(c.isUnchoked('p0')).toBe(false);
    expect(c.peerInterested('p1', false)).toEqual([{ type: 'choke', peer: 'p1' }]);
    expect(unchoked(c, ids)).toEqual([]);
  });

  it('re-ranks every 10 s, not in between', () => {
    const { c, clock, ids } = swarm([10, 20, 30, 40, 50], { slots: 2 });
    interestAllAndRank(c, clock, ids);
    // p0 became the optimistic unchoke at t=0, when it was the only choked interested peer.
    expect(unchoked(c, ids)).toEqual(['p0', 'p3', 'p4']);
    c.updateRates('p1', { download: 1000, upload: 0 });
    clock.advance(9_999);
    expect(c.tick()).toEqual([]);
    clock.advance(1);
    const acts: ChokeAction[] = c.tick();
    expect(acts).toEqual([{ type: 'unchoke', peer: 'p1' }, { type: 'choke', peer: 'p3' }]);
    expect(unchoked(c, ids)).toEqual(['p0', 'p1', 'p4']);
  });

  it('rotates the optimistic unchoke every 30 s', () => {
    const { c, clock, ids } = swarm([90, 80, 1, 2, 3, 4, 5], { slots: 2, seed: 7 });
    for (const id of ids) c.peerInterested(id, true);
    const held: Array<string | undefined> = [];
    for (let t = 0; t <= 120_000; t += 10_000) {
      if (t > 0) clock.advance(10_000);
      c.tick();
      held.push(c.optimisticPeer());
      expect(unchoked(c, ids).sort()).toEqual(['p0', 'p1', c.optimisticPeer()].sort());
    }
    // Chosen at t=0 when the third peer got interested; held for three 10 s rounds each.
    const runs = held.reduce<number[]>((r, p, i) => (i > 0 && p === held[i - 1] ? [...r.slice(0, -1), (r.at(-1) ?? 0) + 1] : [...r, 1]), []);
    expect(runs.slice(0, -1)).toEqual([3, 3, 3, 3]);
    expect(held.every((p) => p !== undefined && p !== 'p0' && p !== 'p1')).toBe(true);
  });

  it('hands the slot of a leaving peer to another at once', () => {
    const { c, ids } = swarm([50, 40, 30, 20], { slots: 2 });
    for (const id of ids) c.peerInterested(id, true);
    expect(unchoked(c, ids)).toEqual(['p0', 'p1', 'p2']);
    expect(c.peerLeft('p0')).toEqual([{ type: 'unchoke', peer: 'p3' }]);
    expect(unchoked(c, ids)).toEqual(['p1', 'p2', 'p3']);
  });

  it('breaks rate ties at random, reproducibly for a seed', () => {
    const pick = (seed: number) => {
      const { c, clock, ids } = swarm(Array(8).fill(5), { seed, slots: 2 });
      interestAllAndRank(c, clock, ids);
      return unchoked(c, ids).join();
    };
    const picks = [1, 2, 3, 4, 5, 6].map(pick);
    expect(new Set(picks).size).toBeGreaterThan(1);
    expect([1, 2, 3, 4, 5, 6].map(pick)).toEqual(picks);
  });
});

describe('Choker, rank: rotate', () => {
  it('gives every interested peer its turn, longest waiting first, whatever the rates', () => {
    const { c, clock, ids } = swarm([90, 80, 70, 60, 50, 40, 30, 20], { slots: 2, rank: 'rotate', seed: 3 });
    for (const id of ids) c.peerInterested(id, true);
    const turns = new Map<string, number>(ids.map((id) => [id, 0]));
    for (let round = 0; round < 16; round++) {
      for (const id of unchoked(c, ids)) turns.set(id, (turns.get(id) ?? 0) + 1);
      clock.advance(10_000);
      c.tick();
    }
    // 16 rounds of 3 slots (2 regular, 1 optimistic) over 8 peers: 6 turns each, give or take
    // the optimistic draw, rates notwithstanding (ranked by rate, p0 and p1 would hold theirs).
    const counts = [...turns.values()];
    expect(counts.reduce((a, b) => a + b)).toBe(48);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
    expect(turns.get('p0')).toBeLessThan(10);
  });

  it('keeps a peer unchoked for its whole round, even when others get interested', () => {
    const { c, clock, ids } = swarm([1, 1, 1, 1], { slots: 1, rank: 'rotate' });
    c.peerInterested('p0', true);
    c.peerInterested('p1', true);
    const first = regularOf(c, ids);
    clock.advance(5_000);
    c.peerInterested('p2', true);
    c.peerInterested('p3', true);
    expect(regularOf(c, ids)).toEqual(first);
    clock.advance(5_000);
    c.tick();
    expect(regularOf(c, ids)).not.toEqual(first);
  });

  it('is the default, with 5 s turns', () => {
    const clock = new ManualClock();
    const c = new Choker({ clock, random: seededRandom(1), options: { uploadSlots: 1 } });
    const ids = ['p0', 'p1', 'p2'];
    for (const id of ids) c.peerJoined(id);
    for (const id of ids) c.peerInterested(id, true);
    const first = regularOf(c, ids);
    const waiting = ids.filter((id) => !c.isUnchoked(id));
    expect(waiting).toHaveLength(1);
    clock.advance(4_999);
    c.tick();
    expect(regularOf(c, ids)).toEqual(first);
    clock.advance(1);
    c.tick();
    expect(regularOf(c, ids)).toEqual(waiting);
  });

  it('gives a free slot to the waiting peer that the fewest others unchoke, then to the longest waiting', () => {
    const { c, clock, ids } = swarm([1, 1, 1, 1, 1, 1], { slots: 2, rank: 'rotate', seed: 5 });
    for (const id of ids) c.peerInterested(id, true);
    // Whoever holds the slots now, the next round goes to the waiting peers that report the
    // fewest unchokers; one that never reported ranks as served by `slots` (2) uploaders.
    const holders = new Set(unchoked(c, ids));
    const waiting = ids.filter((id) => !holders.has(id));
    const [starved, poor, rich] = waiting;
    c.peerUnchokers(starved!, 0);
    c.peerUnchokers(poor!, 1);
    c.peerUnchokers(rich!, 9);
    clock.advance(10_000);
    c.tick();
    expect(regularOf(c, ids).sort()).toEqual([starved!, poor!].sort());
    // The next round: the turns of starved and poor are over; of the waiting peers, the regular
    // holders of the first round (unreported: 2) go before rich (9).
    clock.advance(10_000);
    c.tick();
    const next = regularOf(c, ids);
    expect(next).toHaveLength(2);
    expect(next).not.toContain(rich);
    expect(next.every((id) => holders.has(id))).toBe(true);
  });

  it('refuses an unknown rank', () => {
    expect(() => new Choker({ clock: new ManualClock(), random: Math.random, options: { rank: 'fastest' as 'rate' } })).toThrow(/choker.rank/);
  });
});

function regularOf(c: Choker, ids: string[]): string[] {
  return unchoked(c, ids).filter((id) => id !== c.optimisticPeer());
}

describe('RateMeter', () => {
  it('averages over its window and forgets what falls out of it', () => {
    const clock = new ManualClock();
    const m = new RateMeter(clock, 10_000, 1_000);
    m.add(5_000);
    clock.advance(5_000);
    expect(m.rate()).toBeCloseTo(1, 5); // 5000 bytes over its 5 s of life
    clock.advance(3_000);
    m.add(11_000);
    expect(m.rate()).toBeCloseTo(2, 5); // 16000 bytes over 8 s
    clock.advance(5_000);
    expect(m.rate()).toBeCloseTo(1.1, 5); // the first 5000 left the 10 s window
    clock.advance(10_000);
    expect(m.rate()).toBe(0);
  });
});
