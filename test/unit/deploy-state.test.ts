import { describe, expect, it } from 'vitest';
import { canActivate, driftSignature, verifyExitBits, type VerifyResult } from '../../src/deploy/index.js';

const result = (entries: VerifyResult['entries']): VerifyResult => {
  const counts = { added: 0, removed: 0, modified: 0, meta: 0, type: 0 };
  for (const e of entries) counts[e.kind]++;
  return { version: 3, dir: '/d', deep: false, checked: 10, hashed: 0, counts, entries };
};

describe('deploy state rules', () => {
  it('a node activates by itself only newer releases, and never while pinned', () => {
    expect(canActivate({ live: null, pinned: false }, 1)).toBe(true);
    expect(canActivate({ live: 3, pinned: false }, 4)).toBe(true);
    expect(canActivate({ live: 3, pinned: false }, 3)).toBe(false);
    expect(canActivate({ live: 3, pinned: false }, 2)).toBe(false);
    expect(canActivate({ live: 3, pinned: true }, 4)).toBe(false);
  });

  it('verify exit status is a bitmask: 1 added, 2 removed, 4 changed', () => {
    const n = { type: 'file', size: 1, mtime: 1, mode: 0o444 };
    expect(verifyExitBits(result([]))).toBe(0);
    expect(verifyExitBits(result([{ path: 'a', kind: 'added', new: n }]))).toBe(1);
    expect(verifyExitBits(result([{ path: 'a', kind: 'removed', old: n }]))).toBe(2);
    expect(verifyExitBits(result([{ path: 'a', kind: 'meta', old: n, new: n }]))).toBe(4);
    expect(verifyExitBits(result([{ path: 'a', kind: 'type', old: n, new: n }, { path: 'b', kind: 'added', new: n }]))).toBe(5);
  });

  it('a drift signature changes when the drift does, so an acknowledgement covers only what was seen', () => {
    const a = result([{ path: 'x', kind: 'modified', new: { type: 'file', size: 2, mtime: 5, mode: 0o444, hash: 'aa' } }]);
    const same = result([{ path: 'x', kind: 'modified', new: { type: 'file', size: 2, mtime: 5, mode: 0o444, hash: 'aa' } }]);
    const edited = result([{ path: 'x', kind: 'modified', new: { type: 'file', size: 2, mtime: 6, mode: 0o444, hash: 'bb' } }]);
    expect(driftSignature(a)).toBe(driftSignature(same));
    expect(driftSignature(a)).not.toBe(driftSignature(edited));
    expect(driftSignature(a)).not.toBe(driftSignature(result([])));
  });
});
