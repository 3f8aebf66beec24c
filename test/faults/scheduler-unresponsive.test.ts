/**
 * Fault 3 at the scheduler (pure, injected clock): a peer that announces pieces and declines them,
 * or never answers, is given up on, while honest peers that decline or run late are not.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { PieceScheduler, seededRandom, type SchedulerAction } from '../../src/scheduler/index.js';
import { declareCases } from './record.js';

const TIMEOUT = 5_000;

function make() {
  const clock = new ManualClock();
  const s = new PieceScheduler({
    pieceSizes: Array(64).fill(64 * 1024), clock, random: seededRandom(7),
    options: { requestTimeoutMs: TIMEOUT, unresponsiveMs: TIMEOUT, minRequestsPerPeer: 2, maxRequestsPerPeer: 2 },
  });
  return { s, clock };
}

function connect(s: PieceScheduler, peer: string, pieces: number[]): SchedulerAction[] {
  return [...s.peerJoined(peer), ...s.peerBitfield(peer, pieces), ...s.peerUnchoked(peer)];
}

const all = [...Array(64).keys()];
const asked = (acts: SchedulerAction[], peer: string) => acts.flatMap((a) => (a.type === 'request' && a.peer === peer ? [a.index] : []));

/** Fails every request to `peer` as `kind` for `ms`, one round per second; returns every action. */
function failFor(s: PieceScheduler, clock: ManualClock, peer: string, first: SchedulerAction[], kind: 'declined' | 'timeout' | undefined, ms: number) {
  const out: SchedulerAction[] = [];
  let pending = asked(first, peer);
  for (let t = 0; t <= ms; t += 1000) {
    const acts = pending.flatMap((i) => s.pieceRejected(peer, i, kind));
    clock.advance(1000);
    acts.push(...s.tick());
    out.push(...acts);
    pending = asked(acts, peer);
  }
  return out;
}

describe('fault 3 (scheduler): unresponsive peers', () => {
  it('bans a peer that keeps declining pieces it announced, once a request timeout has passed', (ctx) => {
    declareCases(ctx, { kind: 'fault', group: '3 malicious peer (scheduler)', tried: 1, bytesLost: 0 });
    const { s, clock } = make();
    const acts = failFor(s, clock, 'liar', connect(s, 'liar', all), 'declined', TIMEOUT + 1000);
    const ban = acts.find((a) => a.type === 'ban');
    expect(ban).toMatchObject({ peer: 'liar', reason: expect.stringMatching(/announced pieces it does not send/) });
    expect(s.peerJoined('liar')).toEqual([expect.objectContaining({ type: 'ban' })]);
  });

  it('reports a peer that answers nothing as stalled, once, and asks others for its pieces', (ctx) => {
    declareCases(ctx, { kind: 'fault', group: '3 malicious peer (scheduler)', tried: 1, bytesLost: 0 });
    const { s, clock } = make();
    connect(s, 'honest', []);
    const acts = failFor(s, clock, 'staller', connect(s, 'staller', all), 'timeout', TIMEOUT + 2000);
    expect(acts.filter((a) => a.type === 'stalled')).toEqual([expect.objectContaining({ peer: 'staller', reason: expect.stringMatching(/answered none/) })]);
    expect(acts.some((a) => a.type === 'ban')).toBe(false);
    // Nothing more goes to the staller; an honest peer with the pieces gets them.
    expect(asked(s.peerBitfield('honest', all), 'honest').length).toBeGreaterThan(0);
    expect(asked([...s.tick(), ...s.nextActions()], 'staller')).toEqual([]);
  });

  it('gives up on nobody for failures it did not cause, for a short burst, or when pieces still come', () => {
    const { s, clock } = make();
    // Declines that are not the peer's doing (a super-seeder deferring, a release switch).
    expect(failFor(s, clock, 'p', connect(s, 'p', all), undefined, 3 * TIMEOUT).some((a) => a.type === 'ban' || a.type === 'stalled')).toBe(false);
    // Many declines at once, then pieces: an honest peer over its request limit.
    const q = make();
    const first = asked(connect(q.s, 'busy', all), 'busy');
    const again = first.flatMap((i) => q.s.pieceRejected('busy', i, 'declined'));
    q.clock.advance(TIMEOUT - 1000);
    const next = asked([...again, ...q.s.tick()], 'busy');
    expect(next.length).toBeGreaterThan(0);
    q.s.pieceReceived('busy', next[0]!, true);
    q.clock.advance(TIMEOUT);
    expect(q.s.tick().some((a) => a.type === 'ban' || a.type === 'stalled')).toBe(false);
    // Late pieces (after their requests timed out) show a congested peer, not a staller.
    const r = make();
    let acts = connect(r.s, 'slow', all);
    for (let t = 0; t < 3 * TIMEOUT; t += 1000) {
      for (const i of asked(acts, 'slow')) r.s.pieceRejected('slow', i, 'timeout');
      r.s.peerActive('slow');
      r.clock.advance(1000);
      acts = [...r.s.tick(), ...r.s.nextActions()];
      expect(acts.some((a) => a.type === 'stalled')).toBe(false);
    }
  });
});
