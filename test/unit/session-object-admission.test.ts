import { describe, expect, it } from 'vitest';
import { ObjectAdmission } from '../../src/session/object-admission.js';

function clock() {
  const c = { t: 0, now: () => c.t, setTimeout: () => ({ cancel: () => undefined }) };
  return c;
}

describe('ObjectAdmission: the publisher answers object requests of a few peers at a time', () => {
  it('admits up to `slots` peers, keeps answering them, and refuses the rest', () => {
    const c = clock();
    const a = new ObjectAdmission({ slots: 2, clock: c, idleMs: 1000 });
    expect(a.admit('p1')).toBe(true);
    expect(a.admit('p2')).toBe(true);
    expect(a.admit('p3')).toBe(false);
    c.t = 900;
    expect(a.admit('p1')).toBe(true);
    expect(a.admit('p2')).toBe(true);
    expect(a.admit('p3')).toBe(false);
  });

  it('a peer that stopped asking, or left, frees its place', () => {
    const c = clock();
    const a = new ObjectAdmission({ slots: 2, clock: c, idleMs: 1000 });
    a.admit('p1');
    a.admit('p2');
    c.t = 800;
    a.admit('p2');
    c.t = 1500;
    // p1 last asked 1.5 s ago: idle; p2 0.7 s ago: still busy.
    expect(a.admit('p3')).toBe(true);
    expect(a.admit('p4')).toBe(false);
    a.free('p2');
    expect(a.admit('p4')).toBe(true);
    expect(a.admit('p1')).toBe(false);
  });
});
