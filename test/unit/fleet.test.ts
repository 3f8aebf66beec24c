import { describe, expect, it } from 'vitest';
import HyperDHT from 'hyperdht';
import { randomBytes } from 'node:crypto';
import { FleetBook, ReportSigner, checkSignature, fleetView, readReport, summaryLine, type FleetReport } from '../../src/fleet/index.js';

/** A peer's envelope read and its signature checked, as FleetBook.offer does for news. */
function openReport(item: unknown): FleetReport {
  const unchecked = readReport(item);
  checkSignature(unchecked);
  return unchecked.report;
}

function report(signer: ReportSigner, patch: Partial<FleetReport> = {}): FleetReport {
  return {
    v: 1, node: signer.publicKey, name: 'web-1', address: '127.0.0.1', at: 1000, publisher: false, phase: 'seeding',
    live: 3, newest: 3, progress: null, bytesUp: 10, bytesDown: 100, bytesFromPublisher: 40, peers: 2, banned: 0,
    lastError: null, pinned: false, livePath: '/webroot/cgi',
    drift: { live: { added: 0, removed: 0, changed: 0 }, records: 0, unpulled: [], blocked: false },
    ...patch,
  };
}

const signer = () => new ReportSigner(randomBytes(32));

describe('fleet reports: signed by the node key', () => {
  it('signs with the key hyperswarm derives from the same seed', () => {
    const seed = randomBytes(32);
    expect(new ReportSigner(seed).publicKey).toBe(HyperDHT.keyPair(seed).publicKey.toString('hex'));
  });

  it('opens a signed report and refuses a forged or altered one', () => {
    const s = signer();
    const signed = s.sign(report(s));
    expect(openReport(signed).name).toBe('web-1');
    const altered = { r: signed.r.replace('"live":3', '"live":4'), s: signed.s };
    expect(() => openReport(altered)).toThrowError(expect.objectContaining({ code: 'E_BAD_SIGNATURE' }));
    const other = signer();
    const forged = { r: JSON.stringify(report(s)), s: other.sign(report(other)).s };
    expect(() => openReport(forged)).toThrowError(expect.objectContaining({ code: 'E_BAD_SIGNATURE' }));
    for (const bad of [null, 'x', { r: 1, s: 'a' }, { r: '{}', s: 'ab'.repeat(64) }, { r: 'x'.repeat(9000), s: 'ab'.repeat(64) }]) {
      expect(() => openReport(bad), JSON.stringify(bad)?.slice(0, 40)).toThrowError(expect.objectContaining({ code: 'E_PROTOCOL' }));
    }
  });

  it('refuses to sign a report naming another key', () => {
    const s = signer();
    expect(() => s.sign(report(signer()))).toThrow(/must name the key/);
  });
});

describe('FleetBook', () => {
  const self = signer();
  it('keeps the newest report per node and says what is news', () => {
    const book = new FleetBook({ self: self.publicKey, allowlist: null, maxNodes: 10 });
    const a = signer();
    expect(book.offer(a.sign(report(a, { at: 2000 })), 5)).not.toBeNull();
    expect(book.offer(a.sign(report(a, { at: 1000 })), 6)).toBeNull(); // older: not taken
    expect(book.offer(a.sign(report(a, { at: 2000 })), 7)).toBeNull(); // the same again
    expect(book.entries()[0]!.lastSeen).toBe(5);
    expect(book.offer(self.sign(report(self, { at: 9000 })), 8)).toBeNull(); // our own, sent back by a peer
    expect(book.entries()).toHaveLength(1);
  });

  it('checks the signature of news; a stale copy, forged or not, changes nothing', () => {
    const book = new FleetBook({ self: self.publicKey, allowlist: null, maxNodes: 10 });
    const a = signer();
    const b = signer();
    expect(book.offer(a.sign(report(a, { at: 2000 })), 5)).not.toBeNull();
    // b signs a report naming a: news by its time, so checked, and refused.
    const forged = { ...b.sign(report(b, { at: 3000 })), r: JSON.stringify(report(a, { at: 3000, name: 'evil' })) };
    expect(() => book.offer(forged, 6)).toThrowError(expect.objectContaining({ code: 'E_BAD_SIGNATURE' }));
    const stale = { ...b.sign(report(b, { at: 1000 })), r: JSON.stringify(report(a, { at: 1000, name: 'evil' })) };
    expect(book.offer(stale, 7)).toBeNull();
    expect(book.entries().map((e) => [e.report?.name, e.report?.at, e.lastSeen])).toEqual([[report(a).name, 2000, 5]]);
    // a's own next report still goes through (its key, now kept, checks it).
    expect(book.offer(a.sign(report(a, { at: 4000 })), 8)).not.toBeNull();
  });

  it('takes a report from its own node unchecked, and relays only one whose signature verifies', () => {
    const book = new FleetBook({ self: self.publicKey, allowlist: null, maxNodes: 10 });
    const a = signer();
    const b = signer();
    // a's connection proved a's key: its report is a's, whatever the signature says, and it shows.
    const badlySigned = { ...a.sign(report(a, { at: 2000, name: 'web-a' })), s: b.sign(report(b)).s };
    expect(book.offer(badlySigned, 5, a.publicKey)?.name).toBe('web-a');
    // The same bytes from any other peer are a forgery.
    const other = new FleetBook({ self: self.publicKey, allowlist: null, maxNodes: 10 });
    expect(() => other.offer(badlySigned, 5, b.publicKey)).toThrowError(expect.objectContaining({ code: 'E_BAD_SIGNATURE' }));
    // Not relayed: a peer pulling from this node would have to take a's word from this node.
    expect(book.newerThan([])).toEqual([]);
    expect(book.entries()[0]!.report?.name).toBe('web-a');
    // A well-signed report from its node is relayed, to a peer whose digest lacks it or is older.
    const good = a.sign(report(a, { at: 3000 }));
    expect(book.offer(good, 6, a.publicKey)).not.toBeNull();
    expect(book.newerThan([])).toEqual([good]);
    expect(book.newerThan([[a.publicKey.slice(0, 16), 2000]])).toEqual([good]);
    expect(book.newerThan([[a.publicKey.slice(0, 16), 3000]])).toEqual([]);
    expect(other.offer(book.newerThan([])[0], 7, self.publicKey)?.at).toBe(3000);
  });

  it('ignores keys outside the allowlist and forgets the longest-unseen node when full', () => {
    const a = signer();
    const b = signer();
    const allow = new FleetBook({ self: self.publicKey, allowlist: [a.publicKey], maxNodes: 10 });
    expect(allow.offer(b.sign(report(b)), 1)).toBeNull();
    const small = new FleetBook({ self: self.publicKey, allowlist: null, maxNodes: 1 });
    small.offer(a.sign(report(a)), 1);
    small.offer(b.sign(report(b)), 2);
    expect(small.entries().map((e) => e.key)).toEqual([b.publicKey]);
  });

  it('drops the reports of a node the membership no longer lists, and keeps a stranger turned away', () => {
    const [a, b] = [signer(), signer()];
    const book = new FleetBook({ self: self.publicKey, allowlist: [a.publicKey, b.publicKey], maxNodes: 10 });
    book.offer(a.sign(report(a)), 1);
    book.offer(b.sign(report(b)), 1);
    book.refused('cd'.repeat(32), '127.0.0.9:1', 'not in network.allowlist', 1);
    book.setAllowlist([a.publicKey]);
    expect(book.entries().map((e) => e.key).sort()).toEqual([a.publicKey, 'cd'.repeat(32)].sort());
    expect(book.offer(b.sign(report(b, { at: 2000 })), 2)).toBeNull();
    // Knocking again, the removed node is named, and told apart from a stranger.
    book.refused(b.publicKey, '127.0.0.2:9', 'not in the membership', 3);
    const v = fleetView(book.entries(), { now: 3, self: self.publicKey, unreachableAfterSec: 30 });
    const removed = v.nodes.find((n) => n.key === b.publicKey)!;
    expect([removed.name, removed.state, removed.stateText, removed.address]).toEqual([report(b).name, 'unauthenticated', 'removed from the membership, still running: stop it', '127.0.0.2']);
    expect(v.nodes.find((n) => n.key === 'cd'.repeat(32))!.stateText).toBe('never authenticated: not in network.allowlist');
  });

  it('remembers a node turned away before it authenticated, unless it reported before', () => {
    const book = new FleetBook({ self: self.publicKey, allowlist: null, maxNodes: 10 });
    const a = signer();
    book.refused('cd'.repeat(32), '127.0.0.9:1', 'wrong cluster secret', 1);
    book.offer(a.sign(report(a)), 1);
    book.refused(a.publicKey, null, 'wrong cluster secret', 2);
    const v = fleetView(book.entries(), { now: 2, self: self.publicKey, unreachableAfterSec: 30 });
    expect(v.nodes.find((n) => n.key === a.publicKey)!.state).toBe('live');
    const stranger = v.nodes.find((n) => n.key === 'cd'.repeat(32))!;
    expect([stranger.state, stranger.stateText, stranger.address]).toEqual(['unauthenticated', 'never authenticated: wrong cluster secret', '127.0.0.9']);
    expect(v.ok).toBe(false);
  });
});

describe('fleetView', () => {
  const self = signer();
  const nodes = Array.from({ length: 6 }, signer);
  const patches: Array<Partial<FleetReport>> = [
    { name: 'master', publisher: true, live: 4, newest: 4 },
    { name: 'fresh', live: 4, newest: 4 },
    { name: 'fetching', live: 3, newest: 4, phase: 'pieces', progress: { version: 4, have: 1, total: 4, bytesHave: 250, bytesTotal: 1000 } },
    { name: 'broken', live: 3, newest: 4, lastError: 'E_NO_SPACE' },
    { name: 'edited', live: 4, newest: 4, drift: { live: { added: 1, removed: 0, changed: 2 }, records: 2, unpulled: ['20261202T010000Z-3'], blocked: false } },
    { name: 'gone', live: 2, newest: 2, at: 1 },
  ];
  const book = new FleetBook({ self: self.publicKey, allowlist: null, maxNodes: 10 });
  nodes.forEach((n, i) => book.offer(n.sign(report(n, { at: 100, ...patches[i] })), patches[i]!.name === 'gone' ? 0 : 50_000));
  const v = fleetView(book.entries(), { now: 60_000, self: self.publicKey, unreachableAfterSec: 30 });
  const by = (name: string) => v.nodes.find((n) => n.name === name)!;

  it('gives every node its state in words', () => {
    expect(v.nodes[0]!.name).toBe('master');
    expect(by('master').stateText).toBe('seeding 4');
    expect(by('fresh').stateText).toBe('live 4');
    expect(by('fetching').stateText).toBe('fetching 4: 25.0 %');
    expect(by('broken').stateText).toBe('error: E_NO_SPACE');
    expect(by('edited').drift).toEqual({ live: 3, records: 2, unpulled: ['20261202T010000Z-3'], blocked: false });
    expect(by('gone').stateText).toBe('unreachable since 1970-01-01T00:00:00Z');
    expect(by('fetching').bytesFromPeers).toBe(60);
  });

  it('sums up: newest among reachable nodes, lagging followers, and fails on error or unreachable', () => {
    expect(v.summary).toEqual({ nodes: 6, newest: 4, onNewest: 3, lagging: 2, unreachable: 1, errors: 1, unauthenticated: 0, drifted: 1 });
    expect(summaryLine(v.summary)).toBe('6 nodes, 3 on the newest release (4), 2 lagging, 1 unreachable, 1 in error, 1 with drift');
    expect(v.ok).toBe(false);
  });
});
