import { describe, expect, it } from 'vitest';
import { Bitfield, ChunkswarmError, loggerOf, ManualClock, silentLogger, type Logger } from '../../src/core/index.js';
import { seededRandom } from '../../src/scheduler/index.js';
import { Download } from '../../src/session/download.js';
import type { SessionPeer } from '../../src/session/peer.js';
import { PeerStanding } from '../../src/session/peer-standing.js';
import { declinedError } from '../../src/wire/index.js';
import { fakePeer, MemoryStager, settle, type FakeWire } from './session-fakes.js';

const SPAN = 1000;

function setup(sizes: number[], log: Logger = silentLogger, standings?: Map<string, PeerStanding>) {
  const clock = new ManualClock();
  const stager = new MemoryStager(sizes);
  const events: string[] = [];
  const dl = new Download({
    stager,
    clock,
    random: seededRandom(7),
    // The scheduler's own timeout is far away: the wire's timeouts (failRequest) decide.
    // Two requests at least per peer: the cases below fail them one at a time.
    scheduler: { unresponsiveFailures: 2, unresponsiveMs: SPAN, requestTimeoutMs: 600_000, minRequestsPerPeer: 2, maxRequestsPerPeer: 4 },
    onPiece: (i, from) => events.push(`piece ${i} from ${from.key}`),
    onBan: (p, reason) => events.push(`ban ${p.key}: ${reason}`),
    onStall: (p, reason) => events.push(`stall ${p.key}: ${reason}`),
    log,
    ...(standings && { standings }),
  });
  /** A peer that holds every piece of the release and unchokes us. */
  const join = (key: string, publisher = false): SessionPeer & { wire: FakeWire } => {
    const p = fakePeer(key, publisher);
    p.wire.announce(stager.releaseId, Bitfield.full(sizes.length));
    p.wire.peerChoking = false;
    dl.addPeer(p);
    return p;
  };
  const timeout = (p: { wire: FakeWire }, i: number) => p.wire.failRequest(i, new ChunkswarmError('E_TIMEOUT', `piece ${i} timed out`));
  return { clock, stager, events, dl, join, timeout };
}

describe('Download', () => {
  it('asks the peers that hold the pieces, stores what they send and resolves when all are in', async () => {
    const { dl, stager, join, events } = setup([10, 20, 30, 40]);
    const a = join('a');
    const b = join('b');
    expect(a.wire.amInterested && b.wire.amInterested).toBe(true);
    for (let round = 0; round < 10 && stager.written.size < 4; round++) {
      for (const p of [a, b]) for (const i of [...p.wire.requests.keys()]) p.wire.answer(i, stager.data[i]!);
      await settle();
    }
    await dl.done;
    expect([...stager.written.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect(events.filter((e) => e.startsWith('piece'))).toHaveLength(4);
    expect(events.filter((e) => e.startsWith('ban'))).toEqual([]);
  });

  it('bans a peer whose piece fails the stager\'s hash, and gets the piece from another', async () => {
    const { dl, stager, join, events } = setup([10]);
    const liar = join('liar');
    expect([...liar.wire.requests.keys()]).toEqual([0]);
    liar.wire.answer(0, new Uint8Array(10));
    await settle();
    expect(events).toEqual([expect.stringMatching(/^ban liar: bad piece 0: piece 0, chunk 0: expected hash \w+, got \w+/)]);
    dl.removePeer('liar'); // the node closes the banned connection
    const honest = join('honest');
    honest.wire.answer(0, stager.data[0]!);
    await dl.done;
  });

  it('leaves a slow peer alone for a while instead of banning it, and asks it again afterwards', async () => {
    const { clock, dl, stager, join, events, timeout } = setup([10, 20, 30]);
    const slow = join('slow');
    const asked = [...slow.wire.requests.keys()];
    timeout(slow, asked[0]!);
    await settle();
    clock.advance(SPAN);
    timeout(slow, asked[1]!);
    await settle();
    // Two unanswered over the span: a back-off, not a ban; its pieces go to others meanwhile.
    expect(events).toEqual([]);
    expect(dl.scheduler.peerStats('slow')).toBeUndefined();
    const other = join('other');
    expect(other.wire.requests.size).toBeGreaterThan(0);
    clock.advance(SPAN);
    expect(dl.scheduler.peerStats('slow')).toBeDefined();
    // A late answer (say for a request it got before) clears its record; it is asked again.
    for (const p of [slow, other]) for (const i of [...p.wire.requests.keys()]) p.wire.answer(i, stager.data[i]!);
    await settle();
    for (const p of [slow, other]) for (const i of [...p.wire.requests.keys()]) p.wire.answer(i, stager.data[i]!);
    await dl.done;
    expect(events.filter((e) => e.startsWith('ban') || e.startsWith('stall'))).toEqual([]);
  });

  /** Lets peer `key` of a download time out every request it was sent, `rounds` times over. */
  async function silentRounds({ clock, join, timeout }: ReturnType<typeof setup>, key: string, rounds: number): Promise<void> {
    const silent = join(key);
    for (let round = 0; round < rounds; round++) {
      const asked = [...silent.wire.requests.keys()];
      expect(asked.length).toBeGreaterThan(0);
      timeout(silent, asked[0]!);
      await settle();
      clock.advance(SPAN);
      for (const i of asked.slice(1)) timeout(silent, i);
      await settle();
      clock.advance(8 * SPAN); // the back-off, whatever its round
    }
  }

  it('reports a peer silent for three rounds as stalled (the session probes it), still never bans it', async () => {
    const download = setup([10, 20, 30, 40]);
    await silentRounds(download, 'silent', 3);
    expect(download.events).toEqual([expect.stringMatching(/^stall silent: answered no piece request for 3 rounds/)]);
  });

  it('counts a peer\'s rounds of silence on from one release\'s download to the next when given the node\'s standings', async () => {
    const standings = new Map<string, PeerStanding>();
    const first = setup([10, 20, 30, 40], silentLogger, standings);
    await silentRounds(first, 'silent', 2);
    expect(first.events).toEqual([]);
    const next = setup([11, 21, 31], silentLogger, standings);
    await silentRounds(next, 'silent', 1);
    expect(next.events).toEqual([expect.stringMatching(/^stall silent: answered no piece request for 3 rounds/)]);
    // A download of its own starts the count over.
    const alone = setup([11, 21, 31]);
    await silentRounds(alone, 'silent', 1);
    expect(alone.events).toEqual([]);
  });

  it('bans a peer that keeps refusing pieces it announced while unchoking us, not one that refuses while choking us, nor the publisher', async () => {
    const { clock, join, events } = setup([10, 20, 30, 40, 50, 60]);
    const refuse = async (p: { wire: FakeWire }) => {
      const [i] = [...p.wire.requests.keys()];
      p.wire.failRequest(i!, declinedError(i!, 'request was rejected'));
      await settle();
    };
    const publisher = join('publisher', true);
    const choking = join('choking');
    const liar = join('liar');
    await refuse(publisher);
    await refuse(liar);
    choking.wire.peerChoking = true; // its rejects follow the choke it sent
    await refuse(choking);
    clock.advance(SPAN);
    await refuse(publisher);
    await refuse(liar);
    await refuse(choking);
    expect(events).toEqual([expect.stringMatching(/^ban liar: announced pieces it does not send: refused 2 requests in a row over 1\.0 s/)]);
  });

  it('does not count a timeout and a refusal together as proof', async () => {
    const { clock, join, events, timeout } = setup([10, 20, 30, 40]);
    const loaded = join('loaded');
    const [first, second] = [...loaded.wire.requests.keys()];
    loaded.wire.failRequest(first!, declinedError(first!, 'request was rejected'));
    await settle();
    clock.advance(SPAN);
    timeout(loaded, second!);
    await settle();
    expect(events.filter((e) => e.startsWith('ban'))).toEqual([]);
  });
  it('asks a peer that takes parts for the part of a piece it lacks, one that does not for the whole piece', async () => {
    const { dl, stager, join } = setup([100, 100]);
    stager.parts.set(0, { offset: 40, length: 20 });
    stager.parts.set(1, { offset: 0, length: 30 });
    const a = join('a');
    const asked = [...a.wire.requests].map(([i, r]) => [i, r.offset, r.length]);
    expect(asked.sort()).toEqual([[0, 40, 20], [1, 0, 30]]);
    a.wire.answer(0, stager.data[0]!.subarray(40, 60));
    await settle();
    expect(stager.hasPiece(0)).toBe(true);
    a.wire.failRequest(1, new ChunkswarmError('E_CLOSED', 'connection closed'));
    dl.removePeer('a');
    const old = fakePeer('old');
    old.wire.takesRanges = false;
    old.wire.announce(stager.releaseId, Bitfield.full(2));
    old.wire.peerChoking = false;
    dl.addPeer(old);
    expect([...old.wire.requests].map(([i, r]) => [i, r.offset, r.length])).toEqual([[1, 0, 100]]);
    old.wire.answer(1, stager.data[1]!);
    await dl.done;
  });

  it('asks again, for the whole piece, when a chunk it was to supply itself is gone, and blames no peer', async () => {
    const { clock, dl, stager, join, events } = setup([100]);
    stager.parts.set(0, { offset: 10, length: 10 });
    stager.lost.add(0);
    const a = join('a');
    expect(a.wire.requests.get(0)).toMatchObject({ offset: 10, length: 10 });
    a.wire.answer(0, stager.data[0]!.subarray(10, 20));
    await settle();
    expect(stager.hasPiece(0)).toBe(false);
    for (let i = 0; i < 20 && !a.wire.requests.has(0); i++) {
      clock.advance(SPAN);
      dl.tick();
    }
    expect(a.wire.requests.get(0)).toMatchObject({ offset: 0, length: 100 });
    a.wire.answer(0, stager.data[0]!);
    await dl.done;
    expect(events.filter((e) => !e.startsWith('piece'))).toEqual([]);
  });
});

describe('PeerStanding', () => {
  it('backs off longer each silent round, up to the cap, and forgets it all once the peer sends', () => {
    const s = new PeerStanding({ failures: 1, spanMs: 0, backOffMs: 100, maxBackOffMs: 300, stalledAfterRounds: 9 });
    const waits = [0, 1, 2, 3].map((t) => s.timedOut(t));
    expect(waits.map((v) => (v?.kind === 'back-off' ? v.ms : v?.kind))).toEqual([100, 200, 300, 300]);
    s.sent();
    expect(s.timedOut(5)).toMatchObject({ kind: 'back-off', ms: 100 });
  });
  it('tells its peers, on the tick after it changed, how many of them unchoke it, and a new peer at once', () => {
    const { clock, dl, join } = setup([10, 20, 30]);
    const a = join('a');
    const b = join('b');
    b.wire.peerChoking = true;
    dl.onChoke(b);
    expect(a.wire.unchokersSent).toEqual([]);
    dl.tick();
    expect([a.wire.unchokersSent, b.wire.unchokersSent]).toEqual([[1], [1]]);
    clock.advance(1000);
    dl.tick();
    expect(a.wire.unchokersSent).toEqual([1]);
    b.wire.peerChoking = false;
    dl.onUnchoke(b);
    clock.advance(1000);
    dl.tick();
    expect([a.wire.unchokersSent, b.wire.unchokersSent]).toEqual([[1, 2], [1, 2]]);
    const c = join('c');
    expect(c.wire.unchokersSent).toEqual([2]);
  });

  it('says once what its missing pieces wait for when no piece has come for a while', async () => {
    const lines: string[] = [];
    const { dl, clock, stager } = setup([10, 20, 30, 40], loggerOf((_level, m) => lines.push(m)));
    const announce = (key: string, pieces: number[], choking: boolean) => {
      const p = fakePeer(key);
      const have = new Bitfield(4);
      for (const i of pieces) have.set(i);
      p.wire.announce(stager.releaseId, have);
      p.wire.peerChoking = choking;
      dl.addPeer(p);
      return p;
    };
    announce('choker', [0], true);
    const giver = announce('giver', [1, 2], false);
    expect([...giver.wire.requests.keys()].sort()).toEqual([1, 2]);
    giver.wire.answer(2, stager.data[2]!);
    await settle();
    clock.advance(4_000);
    dl.tick();
    expect(lines).toEqual([]);
    clock.advance(1_000);
    dl.tick();
    dl.tick();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('no piece for 5.0 s; of 3 missing pieces, 1 are requested, 1 on no peer we may ask, 1 only on peers that choke us');
    giver.wire.answer(1, stager.data[1]!);
    await settle();
    clock.advance(5_000);
    dl.tick();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('of 2 missing pieces, 0 are requested, 1 on no peer we may ask, 1 only on peers that choke us');
  });
});
