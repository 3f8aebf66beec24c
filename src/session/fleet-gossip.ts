import { isIPv4 } from 'node:net';
import { hostname } from 'node:os';
import { ChunkswarmError, settlesWithin, splitHostPort, type Logger } from '../core/index.js';
import type { Config } from '../config/index.js';
import {
  FleetBook, MAX_UNPULLED_IDS, ReportSigner, driftRecordIds, fleetView, markPulled, packDriftRecord, unpackDriftRecord,
  type FleetDigest, type FleetEntry, type FleetReport, type FleetView, type SignedReport,
} from '../fleet/index.js';
import type { BootstrapAddress, BootstrapMemory } from '../swarm/index.js';
import type { SessionPeer } from './peer.js';
import type { NodeStatusReport } from './status.js';

/** Most reports one status message carries, and takes from a peer. */
const MAX_REPORTS_PER_MESSAGE = 4096;
const PULL_TIMEOUT_MS = 120_000;
/** How long a pull of the newest record waits for the node to record its live drift first: well within PULL_TIMEOUT_MS. */
const PRESERVE_WAIT_MS = 30_000;
/** Pulls come every second while they bring news, then back off up to the report interval. */
const PULL_MIN_MS = 1000;
/** tick() runs every second, not to the millisecond. */
const PULL_SLACK_MS = 100;

/** What the gossip needs of the peer table; the fleet rides on status messages. */
export interface FleetPeers {
  list(): SessionPeer[];
  /** Sends signed reports to every connected peer. */
  sendFleet(reports: SignedReport[]): void;
  /** Sends reports, or this node's digest, to one peer. */
  sendFleetTo(p: SessionPeer, m: { fleet?: SignedReport[]; fleetDigest?: FleetDigest }): void;
}

/** A drift record fetched by `drift pull`, as the control socket returns it (file bytes in base64). */
export interface PulledDrift {
  node: { key: string; name: string };
  record: import('../deploy/index.js').DriftReport;
  files: Array<{ path: string; kind: 'file' | 'symlink'; mode: number; size: number; target?: string; data: string }>;
}

/**
 * The fleet view of one node: makes and signs its own report every fleet.reportIntervalSec and
 * sends it to its peers, keeps every node's latest report (FleetBook), and answers and makes
 * drift record requests. Reports of nodes further away are pulled, not flooded: every second (less
 * often in a full mesh, see pullEveryMs) the node sends one random peer its digest, and the peer
 * answers with the reports the digest lacks.
 * Flooding sent each report over every link of the overlay (a node got each one from each of its
 * peers): at 16 nodes, a full mesh, that was two thirds of what an idle node cost; at 10^3 nodes
 * with 64 peers each, 64 copies of every report. A pull finds a report of a node h hops away within
 * a few seconds (the fraction of nodes that lack it shrinks like an epidemic's), and a node
 * that joins gets everything from the digest it sends when it connects.
 */
export class FleetGossip {
  readonly book: FleetBook;
  private readonly signer: ReportSigner;
  private lastOwn = 0;
  /**
   * Pulls back off while they bring nothing that the nodes' own reports did not: in a full mesh
   * every report comes from its node, and a pull a second would only cost (11 of the 25 % of a
   * core that an idle cluster of 33 spent on the fleet). A report that came from another node than its own
   * (an answer to a pull) means the overlay is not a full mesh, or a node just joined: back to
   * a pull a second.
   */
  private pullEveryMs = PULL_MIN_MS;
  private nextPull = 0;
  private relayedNews = false;
  private making = false;
  private readonly complained = new Set<string>();
  private readonly startedAt = Date.now();

  constructor(private readonly o: {
    config: Config;
    seed: Uint8Array;
    driftDir: string;
    log: Logger;
    peers: () => FleetPeers;
    status: () => Promise<NodeStatusReport>;
    /** The port of the DHT bootstrap node this node runs, if it runs one: in its report, for the others to remember. */
    bootstrapPort?: () => number | null;
    /** Where the bootstrap nodes the reports name are remembered. */
    memory?: BootstrapMemory;
    /** [0, 1): which peer is pulled from (tests fix it). */
    random?: () => number;
    /** Records the live tree's drift now (a node with a live tree): a pull of the newest record gets today's hand edits. */
    preserveDrift?: () => Promise<void>;
  }) {
    this.signer = new ReportSigner(o.seed);
    this.book = new FleetBook({ self: this.signer.publicKey, allowlist: o.config.network.allowlist, maxNodes: MAX_REPORTS_PER_MESSAGE });
  }

  get self(): string {
    return this.signer.publicKey;
  }

  /** Called every second: the own report to every peer when due, and a pull from one peer when due. */
  async tick(now = Date.now()): Promise<void> {
    if (!this.making && now - this.lastOwn >= this.o.config.fleet.reportIntervalSec * 1000) {
      this.making = true;
      try {
        this.lastOwn = now;
        const report = ownReport(await this.o.status(), this.o.config, await driftRecordIds(this.o.driftDir), this.o.bootstrapPort?.() ?? null);
        const signed = this.signer.sign(report);
        this.book.setOwn(signed, report, Date.now());
        this.o.peers().sendFleet([signed]);
        await this.o.memory?.learn(reportedBootstrapNodes(this.book.entries(), this.self));
      } finally {
        this.making = false;
      }
    }
    if (now < this.nextPull) return;
    this.pullEveryMs = this.relayedNews ? PULL_MIN_MS : Math.min(this.pullEveryMs * 2, this.o.config.fleet.reportIntervalSec * 1000);
    this.relayedNews = false;
    this.nextPull = now + this.pullEveryMs - PULL_SLACK_MS;
    const peers = this.o.peers();
    const list = peers.list();
    if (list.length === 0) return;
    const p = list[Math.floor((this.o.random ?? Math.random)() * list.length)]!;
    peers.sendFleetTo(p, { fleetDigest: this.digest() });
  }

  /**
   * The own report goes out at the next tick (within a second), not at the next interval: the node
   * went live on a release, took a new one or failed a step. `fleet` showed every node 'fetching 6'
   * for up to reportIntervalSec after all were live on it.
   */
  reportSoon(): void {
    this.lastOwn = 0;
  }

  /** What this node holds, for a peer to answer with what it lacks (sent on connecting, and by tick). */
  digest(): FleetDigest {
    return this.book.digest();
  }

  /** The `fleet` field of a peer's status message. */
  receive(from: string, items: unknown): void {
    if (!Array.isArray(items)) return;
    const now = Date.now();
    for (const item of items.slice(0, MAX_REPORTS_PER_MESSAGE)) {
      try {
        const news = this.book.offer(item, now, from);
        if (news && news.node !== from) this.relayedNews = true;
      } catch (err) {
        this.complain(from, err, 'reading a fleet report');
      }
    }
  }

  /** The `fleetDigest` field of a peer's status message: the reports it lacks go back to it. */
  answer(p: SessionPeer, digest: unknown): void {
    let reports: SignedReport[];
    try {
      reports = this.book.newerThan(digest);
    } catch (err) {
      return this.complain(p.key, err, 'reading a fleet digest');
    }
    if (reports.length > 0) this.o.peers().sendFleetTo(p, { fleet: reports.slice(0, MAX_REPORTS_PER_MESSAGE) });
  }

  view(now = Date.now()): FleetView {
    return fleetView(this.book.entries(), { now, self: this.self, unreachableAfterSec: this.o.config.fleet.unreachableAfterSec });
  }

  /**
   * A peer asks for one of our drift records: read from drift/ only, bounded, and then marked
   * pulled. Asked for the newest, the node first records the drift its live tree has now: records
   * were made only when a release replaced the tree, so a frontend whose fix `fleet` showed had
   * nothing to pull until the next release.
   */
  async serveDrift(p: SessionPeer, id: number, record: string): Promise<void> {
    if (record === '' && this.o.preserveDrift) {
      const preserved = this.o.preserveDrift().catch((err: unknown) => {
        const e = ChunkswarmError.fromSystem(err, 'recording the live tree\'s drift for a pull');
        this.o.log.warn(`${e.message}: the records already made are offered`, { peer: p.key, code: e.code });
      });
      // A node staging a large release runs the check after it: the puller is not kept past its timeout.
      if (!(await settlesWithin(preserved, PRESERVE_WAIT_MS))) {
        this.o.log.warn(`the live tree's drift is recorded once the step under way ends; the records already made are offered now`, { peer: p.key });
      }
    }
    const { bytes, served } = await packDriftRecord(this.o.driftDir, record, this.o.config.fleet.maxDriftPullBytes);
    p.wire.answerDrift(id, bytes);
    if (served) {
      this.o.log.info(`drift record ${served} sent to ${p.key.slice(0, 12)}`, { peer: p.key });
      await markPulled(this.o.driftDir, served, p.key).catch((err: unknown) => {
        this.o.log.warn(ChunkswarmError.fromSystem(err, `marking drift record ${served} as pulled`).message, { peer: p.key });
      });
    }
  }

  /** `drift pull`: record `record` ('' for the newest) of the node named `node`, which must be connected. */
  async pull(node: string, record: string): Promise<PulledDrift> {
    const entry = this.find(node);
    const name = entry.report?.name ?? entry.key.slice(0, 12);
    const peer = this.o.peers().list().find((p) => p.key === entry.key);
    if (!peer) throw new ChunkswarmError('E_CLOSED', `node ${name} (${entry.key.slice(0, 12)}) is not connected to this node: see "chunkswarm fleet"`);
    const bytes = await peer.wire.requestDrift(record, PULL_TIMEOUT_MS);
    const bundle = unpackDriftRecord(bytes, this.o.config.fleet.maxDriftPullBytes, name);
    this.o.log.info(`drift record ${bundle.record.id} pulled from ${name}: ${bundle.files.length} files`, { peer: entry.key });
    return {
      node: { key: entry.key, name },
      record: bundle.record,
      files: bundle.files.map(({ data, ...f }) => ({ ...f, data: data.toString('base64') })),
    };
  }

  /** Once per peer: a peer on another version, or a forger, would otherwise fill the log. */
  private complain(from: string, err: unknown, what: string): void {
    if (this.complained.has(from)) return;
    this.complained.add(from);
    const e = ChunkswarmError.fromSystem(err, what);
    this.o.log.warn(`fleet gossip from ${from.slice(0, 12)} refused: ${e.message}`, { peer: from, code: e.code });
  }

  /** A node by key, key prefix (8+ hex characters) or name. */
  private find(spec: string) {
    const all = this.book.entries().filter((e) => e.key !== this.self);
    const hits = all.filter((e) => e.key === spec || e.report?.name === spec || (spec.length >= 8 && /^[0-9a-f]+$/.test(spec) && e.key.startsWith(spec)));
    if (hits.length === 1) return hits[0]!;
    if (hits.length === 0) {
      // Right after a start the fleet is still filling: each node reports once an interval.
      const interval = this.o.config.fleet.reportIntervalSec;
      const upSec = Math.round((Date.now() - this.startedAt) / 1000);
      const young = upSec < 2 * interval ? `; this node started ${upSec} s ago and hears from each node every ${interval} s: try again in a few seconds` : '';
      throw new ChunkswarmError('E_NOT_FOUND', `no node ${JSON.stringify(spec)} in the fleet (see "chunkswarm fleet")${young}`);
    }
    throw ChunkswarmError.usage(`${hits.length} nodes match ${JSON.stringify(spec)}: give more of the key`);
  }
}

/** The own report, from the status report and the drift records on disk. */
export function ownReport(s: NodeStatusReport, config: Config, drift: { all: string[]; unpulled: string[] }, bootstrapPort: number | null = null): FleetReport {
  const host = config.network.host;
  return {
    v: 1,
    node: s.node,
    name: config.node.name,
    address: host === '0.0.0.0' || host === '::' ? hostname() : host,
    at: Date.now(),
    publisher: s.publisher,
    phase: s.phase,
    // The publisher makes no release live: what it serves is its "live" one.
    live: s.live ?? (s.publisher ? (s.newest?.version ?? null) : null),
    newest: s.newest?.version ?? null,
    progress: s.progress && { version: s.progress.version, have: s.progress.have, total: s.progress.total, bytesHave: s.progress.bytesHave, bytesTotal: s.progress.bytesTotal },
    bytesUp: s.bytesUp,
    bytesDown: s.bytesDown,
    bytesFromPublisher: s.bytesFromPublisher,
    peers: s.peers.filter((p) => p.connected).length,
    banned: s.banned.length,
    lastError: s.lastError?.code ?? null,
    pinned: s.pinned,
    livePath: config.livePath,
    bootstrapPort,
    drift: {
      live: s.verify && { added: s.verify.added, removed: s.verify.removed, changed: s.verify.changed },
      records: drift.all.length,
      unpulled: drift.unpulled.slice(-MAX_UNPULLED_IDS),
      blocked: s.lastError?.code === 'E_DRIFT',
    },
  };
}

/** The bootstrap nodes that the nodes of the fleet book (not this one) report, the most recently heard from first. */
export function reportedBootstrapNodes(entries: readonly FleetEntry[], self: string): BootstrapAddress[] {
  const out: Array<{ at: number; address: BootstrapAddress }> = [];
  for (const e of entries) {
    const port = e.report?.bootstrapPort;
    if (e.key === self || typeof port !== 'number') continue;
    const host = reachableHost(e);
    if (host !== null) out.push({ at: e.lastSeen ?? 0, address: { host, port } });
  }
  return out.sort((a, b) => b.at - a.at).map((x) => x.address);
}

/** The address a node's report gives, where it is one (a node bound to 0.0.0.0 reports its host name), else the one it connected from. */
function reachableHost(e: FleetEntry): string | null {
  const said = e.report?.address;
  if (said && isIPv4(said) && said !== '0.0.0.0') return said;
  const seen = e.seenAt ? splitHostPort(e.seenAt).host : '';
  return isIPv4(seen) ? seen : null;
}
