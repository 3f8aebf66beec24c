import type { Config } from '../config/index.js';
import { ChunkswarmError, systemClock, type Logger } from '../core/index.js';
import type { Deployer } from '../deploy/index.js';
import { releaseId } from '../manifest/index.js';
import type { MembershipAdmin } from '../membership/index.js';
import type { Swarm } from '../swarm/index.js';
import { diagnose, type Problem } from './diagnose.js';
import type { HeadBook } from './heads.js';
import type { MembershipGossip } from './membership-gossip.js';
import type { NodeHttp } from './node-http.js';
import type { PeerTable } from './peer-table.js';
import type { PeriodicVerify } from './periodic-verify.js';
import type { RetryLoop } from './retry-loop.js';
import type { Role } from './roles.js';
import type { Rollout } from './rollout.js';
import { writeStatus, type NodeStatusReport } from './status.js';
import type { UploadPolicy } from './upload-policy.js';

/** The parts of a running node that its report reads, all made by the time the first report is asked for. */
export interface ReportedNode {
  config: Config;
  log: Logger;
  role: Role;
  deployer: Deployer;
  heads: HeadBook;
  rollout: Rollout;
  upload: UploadPolicy;
  peers: PeerTable;
  swarm: Swarm;
  loop: RetryLoop;
  verifier: PeriodicVerify | null;
  membership: MembershipAdmin;
  gossip: MembershipGossip;
  /** Made after the report, and only if the config asks for it. */
  http: () => NodeHttp | null;
  closed: () => boolean;
}

/**
 * What a node tells of itself: `status` over the control socket, dataDir/status.json every tick,
 * the fleet's and the HTTP endpoint's reports; and the problems it finds, each logged once when
 * it appears.
 */
export class NodeReport {
  private readonly startedAt = new Date();
  private statusError: string | null = null;
  private loggedProblems = new Set<Problem['id']>();
  /** When a report first found pieces on no connected peer, since the last that found none (ms since the epoch). */
  private unavailableSince: number | null = null;

  constructor(private readonly node: ReportedNode) {}

  /** What serve's progress line needs, without the whole report (null while nothing downloads). */
  progress(): { progress: NonNullable<NodeStatusReport['progress']>; peers: number; unavailablePieces: number } | null {
    const { rollout, heads, peers } = this.node;
    const d = rollout.download;
    const newest = heads.latest;
    if (!d || !newest) return null;
    return { progress: { version: newest.body.version, ...d.scheduler.progress() }, peers: peers.list().length, unavailablePieces: d.unavailablePieces() };
  }

  /** The report from memory alone: what full() starts from. */
  private report(): NodeStatusReport {
    const n = this.node;
    const newest = n.heads.latest;
    // Counting the pieces no connected peer holds scans the release: once per report.
    const download = this.progress();
    const retry = n.loop.state;
    const lastError = retry.lastError ? { code: retry.lastError.code, message: retry.lastError.message, at: new Date(Date.now() - (systemClock.now() - retry.lastError.at)).toISOString() } : null;
    return {
      node: n.swarm.publicKey,
      pid: process.pid,
      publisher: n.role.publisher,
      role: n.role.publisher ? ('publisher' as const) : ('follower' as const),
      startedAt: this.startedAt.toISOString(),
      updated: new Date().toISOString(),
      phase: n.rollout.phase,
      live: n.upload.space?.version ?? null,
      pinned: false,
      newest: newest ? { version: newest.body.version, release: releaseId(newest.body) } : null,
      progress: download?.progress ?? null,
      unavailablePieces: download?.unavailablePieces ?? 0,
      ...n.peers.traffic.totals(),
      objectsFetched: n.rollout.objectsFetched,
      peers: n.peers.traffic.peers(),
      banned: n.peers.bans(),
      refusedHeads: n.peers.refusedHeads(),
      swarm: { ...n.swarm.stats() },
      verify: n.verifier?.report ?? null,
      membership: this.membershipReport(),
      lastError,
      retry: { failures: retry.failures, retryInSec: retry.retryAt === null ? null : (retry.retryAt - systemClock.now()) / 1000 },
      problems: [],
      http: n.http()?.address ?? null,
      memory: memoryMB(),
    };
  }

  /** report() plus what needs the disk or a judgement: state.json's live and pinned, and the diagnosis. */
  async full(phase?: NodeStatusReport['phase']): Promise<NodeStatusReport> {
    const n = this.node;
    const r = this.report();
    const state = await n.deployer.state();
    const full: NodeStatusReport = { ...r, ...(phase && { phase }), live: state.live, pinned: state.pinned };
    full.problems = diagnose({
      uptimeSec: (Date.now() - this.startedAt.getTime()) / 1000,
      connectedPeers: n.peers.list().length,
      aloneSinceSec: n.peers.aloneForSec(),
      bootstrap: n.config.network.bootstrap,
      swarm: n.swarm.stats(),
      authFailureAgoSec: n.swarm.lastAuthFailureAt === null ? null : (Date.now() - n.swarm.lastAuthFailureAt) / 1000,
      refusedKeys: n.swarm.refusedNow(),
      refusedHeads: full.refusedHeads,
      lastError: full.lastError,
      retry: full.retry,
      unavailablePieces: full.unavailablePieces,
      unavailableForSec: this.unavailableForSec(full.unavailablePieces),
      progressVersion: full.progress?.version ?? null,
      live: full.live,
      newest: full.newest?.version ?? null,
      pinned: full.pinned,
      publisher: full.publisher,
      membership: full.membership,
    });
    return full;
  }

  /** Writes status.json, and logs the problems that appeared since the last write. */
  async write(phase?: NodeStatusReport['phase']): Promise<void> {
    const r = await this.full(phase);
    if (!this.node.closed()) this.logNewProblems(r.problems);
    await writeStatus(this.node.config.dataDir, r);
  }

  /** write(), each tick: a failure is logged once per distinct cause (a full disk would otherwise log it every second). */
  writeEachTick(): void {
    void this.write().then(
      () => (this.statusError = null),
      (err: unknown) => {
        const e = ChunkswarmError.fromSystem(err, 'writing status.json');
        if (e.message !== this.statusError) this.node.log.error(`${e.message} (status stays available over the control socket)`, { code: e.code });
        this.statusError = e.message;
      },
    );
  }

  private membershipReport(): NodeStatusReport['membership'] {
    const { membership, gossip } = this.node;
    const r = membership.book.record;
    return { version: r?.body.version ?? null, members: r?.body.members.length ?? null, enforced: membership.book.enforced, member: gossip.isMember() };
  }

  /**
   * A problem goes to the log once when it appears (a node with the wrong secret must not sit
   * silent); failed steps are logged by the retry loop already.
   */
  private logNewProblems(problems: readonly Problem[]): void {
    const now = new Set(problems.map((p) => p.id));
    for (const p of problems) {
      if (this.loggedProblems.has(p.id) || p.id === 'failed-step') continue;
      if (p.level === 'info') this.node.log.info(p.text);
      else this.node.log.warn(p.text);
    }
    this.loggedProblems = now;
  }

  /** How long pieces have been on no connected peer, as seen by the reports made since (null: none is now). */
  private unavailableForSec(pieces: number): number | null {
    if (pieces === 0) {
      this.unavailableSince = null;
      return null;
    }
    this.unavailableSince ??= Date.now();
    return (Date.now() - this.unavailableSince) / 1000;
  }
}

function memoryMB(): NodeStatusReport['memory'] {
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  return { rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), heapTotalMB: mb(m.heapTotal), externalMB: mb(m.external) };
}
