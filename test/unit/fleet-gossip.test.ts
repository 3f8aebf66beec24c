import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/index.js';
import type { FleetDigest, SignedReport } from '../../src/fleet/index.js';
import { FleetGossip, type FleetPeers } from '../../src/session/fleet-gossip.js';
import type { SessionPeer } from '../../src/session/peer.js';
import type { NodeStatusReport } from '../../src/session/status.js';
import { tempDirs } from '../support/temp-dirs.js';

const tempDir = tempDirs();

type Sent = { from: string; to: string; fleet?: SignedReport[]; fleetDigest?: FleetDigest };

/**
 * Nodes of a given overlay wired by a fake peer table that delivers every status message at
 * once, as PeerTable's status handler would (reports first, then the digest).
 */
async function overlay(names: string[], links: Array<[string, string]>) {
  const config = parseConfig({ cluster: { publisherKey: 'ab'.repeat(32) } }, '/etc/chunkswarm/swarm.config.json');
  const driftDir = await tempDir('cs-fleet-gossip-');
  const sent: Sent[] = [];
  const nodes = new Map<string, FleetGossip>();
  const peersOf = (name: string): SessionPeer[] =>
    links.filter((l) => l.includes(name)).map((l) => ({ key: nodes.get(l[0] === name ? l[1] : l[0])!.self }) as SessionPeer);
  const nameOf = (key: string) => [...nodes].find(([, g]) => g.self === key)![0];
  const deliver = (from: string, to: string, m: { fleet?: SignedReport[]; fleetDigest?: FleetDigest }) => {
    sent.push({ from, to, ...m });
    const target = nodes.get(to)!;
    const fromKey = nodes.get(from)!.self;
    if (m.fleet) target.receive(fromKey, m.fleet);
    if (m.fleetDigest) target.answer({ key: fromKey } as SessionPeer, m.fleetDigest);
  };
  for (const name of names) {
    let gossip: FleetGossip | null = null;
    const peers: FleetPeers = {
      list: () => peersOf(name),
      sendFleet: (fleet) => { for (const p of peersOf(name)) deliver(name, nameOf(p.key), { fleet }); },
      sendFleetTo: (p, m) => deliver(name, nameOf(p.key), m),
    };
    const status = { node: '', publisher: false, phase: 'idle', live: null, newest: null, progress: null, bytesUp: 0, bytesDown: 0,
      bytesFromPublisher: 0, peers: [], banned: [], lastError: null, pinned: false, verify: null };
    gossip = new FleetGossip({
      config: { ...config, node: { ...config.node, name } }, seed: randomBytes(32), driftDir, log: silentLogger,
      peers: () => peers, status: async () => ({ ...status, node: gossip!.self }) as unknown as NodeStatusReport, random: () => 0,
    });
    nodes.set(name, gossip);
  }
  /** The other nodes `at` holds a report of. */
  const known = (at: string) => nodes.get(at)!.view().nodes.map((n) => n.name).filter((n) => n !== at).sort();
  return { nodes, sent, known };
}

describe('fleet gossip: reports pushed to peers, pulled from further away', () => {
  it('a node two hops away gets a report by pulling it from the middle node, which does not flood it', async () => {
    const { nodes, sent, known } = await overlay(['a', 'b', 'c'], [['a', 'b'], ['b', 'c']]);
    await nodes.get('a')!.tick(10_000);
    expect(sent.filter((m) => m.fleet).map((m) => `${m.from}>${m.to}`)).toEqual(['a>b']);
    expect(known('c')).toEqual([]);
    // b's tick: its own report to a and c, and a pull from its first peer (random() = 0: a).
    await nodes.get('b')!.tick(10_000);
    expect(known('c')).toEqual(['b']);
    sent.length = 0;
    await nodes.get('c')!.tick(10_000);
    // c pulled from b: b answered with a's report (and not with c's own or b's, which c holds).
    const answer = sent.find((m) => m.from === 'b' && m.to === 'c' && m.fleet)!;
    expect(answer.fleet!.map((r) => JSON.parse(r.r).name)).toEqual(['a']);
    expect(known('c')).toEqual(['a', 'b']);
    expect(known('a')).toEqual(['b']);
  });

  it('in a full mesh every report crosses each link once per interval: nothing is sent twice', async () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const links = names.flatMap((x, i) => names.slice(i + 1).map((y) => [x, y] as [string, string]));
    const { nodes, sent, known } = await overlay(names, links);
    for (const n of names) await nodes.get(n)!.tick(10_000);
    for (const n of names) expect(known(n)).toEqual(names.filter((x) => x !== n));
    const reports = sent.flatMap((m) => m.fleet ?? []);
    // One own report per node to each of its 4 peers; the pulls found nothing missing.
    expect(reports.length).toBe(names.length * 4);
    expect(sent.filter((m) => m.fleetDigest).length).toBe(names.length);
    // Pulls that bring nothing back off: 2, 4, then 5 s (the report interval) apart.
    sent.length = 0;
    for (let t = 11_000; t <= 30_000; t += 1000) await nodes.get('a')!.tick(t);
    expect(sent.filter((m) => m.from === 'a' && m.fleetDigest).length).toBe(4); // at 12, 16, 21 and 26 s
  });

  it('reportSoon sends the own report at the next tick, not at the next interval', async () => {
    const { nodes, sent } = await overlay(['a', 'b'], [['a', 'b']]);
    const a = nodes.get('a')!;
    const reportsFromA = () => sent.filter((m) => m.from === 'a' && m.fleet?.some((r) => JSON.parse(r.r).name === 'a')).length;
    await a.tick(10_000);
    await a.tick(11_000);
    expect(reportsFromA()).toBe(1);
    a.reportSoon();
    await a.tick(12_000);
    expect(reportsFromA()).toBe(2);
    // Then the interval again (5 s) from that report.
    await a.tick(13_000);
    expect(reportsFromA()).toBe(2);
    await a.tick(17_000);
    expect(reportsFromA()).toBe(3);
  });

  it('a node that gets reports through another keeps pulling every second', async () => {
    const { nodes, sent } = await overlay(['a', 'b', 'c'], [['a', 'b'], ['b', 'c']]);
    for (let t = 10_000; t <= 16_000; t += 1000) {
      for (const n of ['a', 'b', 'c']) await nodes.get(n)!.tick(t);
    }
    const pullsOf = (n: string) => sent.filter((m) => m.from === n && m.fleetDigest).length;
    // c pulls from b, its one peer, and b's answers carry a's reports: never a back-off while they come.
    expect(pullsOf('c')).toBeGreaterThan(pullsOf('a'));
  });

  it('a node that connects gets what it lacks in answer to the digest it sends', async () => {
    const { nodes, sent, known } = await overlay(['a', 'b', 'c', 'd'], [['a', 'b'], ['b', 'c'], ['b', 'd']]);
    for (const n of ['a', 'b', 'c']) await nodes.get(n)!.tick(10_000);
    expect(known('d')).toEqual(['b']);
    sent.length = 0;
    const d = nodes.get('d')!;
    // As PeerTable does when the connection is ready: d's digest goes to b, b answers it.
    nodes.get('b')!.answer({ key: d.self } as SessionPeer, d.digest());
    expect(sent.flatMap((m) => m.fleet ?? []).map((r) => JSON.parse(r.r).name).sort()).toEqual(['a', 'c']);
    expect(known('d')).toEqual(['a', 'b', 'c']);
  });

  it('a node not in the fleet is named; right after a start the error says the fleet is still filling', async () => {
    const { nodes } = await overlay(['a', 'b'], [['a', 'b']]);
    await expect(nodes.get('a')!.pull('nobody', '')).rejects.toThrow(/^no node "nobody" in the fleet .*this node started 0 s ago and hears from each node every \d+ s/);
  });

  it('a malformed digest is refused without an answer', async () => {
    const { nodes, sent } = await overlay(['a', 'b'], [['a', 'b']]);
    await nodes.get('a')!.tick(10_000);
    sent.length = 0;
    for (const bad of [null, 'x', [['zz', 1]], [['ab'.repeat(8), 'soon']], [['ab'.repeat(8)]]]) {
      nodes.get('a')!.answer({ key: nodes.get('b')!.self } as SessionPeer, bad);
    }
    expect(sent).toEqual([]);
  });
});
