import { describe, expect, it } from 'vitest';
import { diagnose, type DiagnoseInput } from '../../src/session/diagnose.js';

const healthy: DiagnoseInput = {
  uptimeSec: 120,
  connectedPeers: 3,
  aloneSinceSec: null,
  bootstrap: ['10.0.0.1:49737'],
  swarm: { authFailures: 0 },
  authFailureAgoSec: null,
  refusedKeys: [],
  refusedHeads: [],
  lastError: null,
  retry: { failures: 0, retryInSec: null },
  unavailablePieces: 0,
  unavailableForSec: null,
  progressVersion: null,
  live: 4,
  newest: 4,
  pinned: false,
  publisher: false,
};

const texts = (d: Partial<DiagnoseInput>) => diagnose({ ...healthy, ...d });

describe('diagnose', () => {
  it('a converged node with peers has no problem', () => {
    expect(diagnose(healthy)).toEqual([]);
  });

  it('a node that never found a peer points at the secret and the bootstrap list, after a grace period', () => {
    expect(texts({ connectedPeers: 0, uptimeSec: 3 })).toEqual([]);
    const [p] = texts({ connectedPeers: 0, uptimeSec: 30 });
    expect(p!.level).toBe('error');
    expect(p!.text).toMatch(/no peer found in 30 s: check that cluster\.secret .* network\.bootstrap \(10\.0\.0\.1:49737\)/);
  });

  it('a node whose peers left says since when, as a warning, after a grace period', () => {
    expect(texts({ connectedPeers: 0, aloneSinceSec: 2 })).toEqual([]);
    const [p] = texts({ connectedPeers: 0, aloneSinceSec: 42 });
    expect(p).toEqual({ id: 'peers-gone', level: 'warning', text: expect.stringMatching(/no peer connected for 42 s/) });
  });

  it('the last error comes first, with the attempt count and the next retry', () => {
    const [p] = texts({ lastError: { code: 'E_DRIFT', message: 'the live release 3 was changed by hand' }, retry: { failures: 3, retryInSec: 7.2 } });
    expect(p).toEqual({ id: 'failed-step', level: 'error', text: 'E_DRIFT: the live release 3 was changed by hand (failed 3 times; retrying in 8 s)' });
  });

  it('refused heads with a foreign key are an error only while no release was ever accepted', () => {
    const refused = [{ code: 'E_WRONG_CLUSTER' }, { code: 'E_STALE_VERSION' }];
    expect(texts({ refusedHeads: refused, newest: null, live: null })[0]).toEqual({
      id: 'heads-refused',
      level: 'error',
      text: expect.stringMatching(/release heads refused \(E_WRONG_CLUSTER\).*cluster\.publisherKey/),
    });
    expect(texts({ refusedHeads: refused })[0]!.level).toBe('warning');
    expect(texts({ refusedHeads: [{ code: 'E_STALE_VERSION' }] })).toEqual([]);
  });

  it('failed authentications, allowlist refusals, unavailable pieces and a pin are each told', () => {
    const all = texts({ swarm: { authFailures: 2 }, authFailureAgoSec: 30, refusedKeys: ['ab'.repeat(32)], unavailablePieces: 5, unavailableForSec: 12, progressVersion: 5, newest: 5, pinned: true });
    expect(all.map((p) => p.level)).toEqual(['warning', 'warning', 'warning', 'info']);
    expect(all[3]!.text).toBe('pinned at release 4; release 5 waits until "chunkswarm unpin"');
  });

  it('tells pieces on no connected peer once they have been so for a grace period, not while peers are being met', () => {
    expect(texts({ unavailablePieces: 33, unavailableForSec: 0.1, progressVersion: 5, newest: 5 })).toEqual([]);
    expect(texts({ unavailablePieces: 33, unavailableForSec: 9.9, progressVersion: 5, newest: 5 })).toEqual([]);
    expect(texts({ unavailablePieces: 33, unavailableForSec: 14.6, progressVersion: 5, newest: 5 })).toEqual([
      { id: 'pieces-unavailable', level: 'warning', text: '33 pieces of release 5 have been on no connected peer for 15 s: the publisher or the nodes holding them are unreachable' },
    ]);
  });

  it('tells failed cluster-secret checks for ten minutes after the last one', () => {
    expect(texts({ swarm: { authFailures: 2 }, authFailureAgoSec: 61 })[0]!.text).toMatch(/^2 connection\(s\) failed the cluster-secret check, the last 61 s ago/);
    expect(texts({ swarm: { authFailures: 2 }, authFailureAgoSec: 601 })).toEqual([]);
  });

  it('names the refused keys that are still outside the membership, the newest three of them', () => {
    const keys = ['a', 'b', 'c', 'd'].map((c) => c.repeat(64));
    expect(texts({ refusedKeys: keys.slice(0, 1) })[0]).toEqual({ id: 'allowlist', level: 'warning', text: expect.stringMatching(/^1 node\(s\) .* refused \(aaaaaaaaaaaaaaaa\): .*chunkswarm admit/) });
    expect(texts({ refusedKeys: keys })[0]!.text).toMatch(/^4 node\(s\) .*\(the newest: bbbbbbbbbbbbbbbb, cccccccccccccccc, dddddddddddddddd, …\)/);
    // Without a signed membership of its own, a frontend refuses the master too: the cure is the record, not an admit.
    const bare = texts({ refusedKeys: keys.slice(0, 1), membership: { version: null, member: null } })[0]!.text;
    expect(bare).toMatch(/holds no signed membership yet.*copy its data\/membership\.json/);
    expect(bare).not.toMatch(/chunkswarm admit/);
    expect(texts({ refusedKeys: keys.slice(0, 1), membership: { version: null, member: null }, publisher: true })[0]!.text).toMatch(/chunkswarm admit/);
  });

  it('a node missing from the membership it enforces is told it was removed (or never admitted)', () => {
    expect(texts({ membership: { version: 3, member: true } })).toEqual([]);
    expect(texts({ membership: { version: null, member: null } })).toEqual([]);
    const [p] = texts({ membership: { version: 3, member: false } });
    expect(p).toEqual({ id: 'not-member', level: 'error', text: expect.stringMatching(/not in the cluster's membership \(version 3\).*chunkswarm admit/) });
    // Refused by every peer, it has none: that is said once, by not-member, not also as a bootstrap or secret problem.
    expect(texts({ membership: { version: 3, member: false }, connectedPeers: 0, uptimeSec: 60 }).map((x) => x.id)).toEqual(['not-member']);
    expect(texts({ membership: { version: 3, member: false }, connectedPeers: 0, aloneSinceSec: 60 }).map((x) => x.id)).toEqual(['not-member']);
    expect(p!.text).toMatch(/on the master/);
  });

  it('a master whose own key is missing from the membership is told how to bring its new key to the nodes', () => {
    const [p] = texts({ publisher: true, membership: { version: 3, member: false } });
    expect(p!.text).toMatch(/^this master's node key is not in .*node\.seed.*"chunkswarm admit <this node's key>" here.*membership\.json into one frontend's data directory/);
  });
});
