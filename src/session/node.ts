import { watch, type FSWatcher } from 'node:fs';
import { ChunkswarmError, Resource, SerialQueue, silentLogger, systemClock, type LogFields, type Logger } from '../core/index.js';
import { readClusterSecret, type Config } from '../config/index.js';
import { ControlServer, runNodeCommand, type ControlRequest, type WaitingNotice } from '../admin/index.js';
import { isMembershipCommand, MembershipAdmin, nodeSeed } from '../membership/index.js';
import { JoinServer } from '../membership/join-server.js';
import { Deployer, type VerifyResult } from '../deploy/index.js';
import { seededRandom } from '../scheduler/index.js';
import { DataLock } from '../store/index.js';
import { BootstrapMemory, mergeBootstrapNodes, Swarm, startBootstrapNode, type BootstrapNode } from '../swarm/index.js';
import { FleetGossip } from './fleet-gossip.js';
import { NodeHttp } from './node-http.js';
import { NodeReport } from './node-report.js';
import { NodePublish } from './node-publish.js';
import { HeadBook } from './heads.js';
import { MembershipGossip } from './membership-gossip.js';
import { ObjectAdmission } from './object-admission.js';
import { PeerTable } from './peer-table.js';
import { PeriodicVerify } from './periodic-verify.js';
import { PieceServer } from './piece-server.js';
import { RetryLoop } from './retry-loop.js';
import { followerRole, publisherRole, type Role } from './roles.js';
import { Rollout } from './rollout.js';
import { UploadPolicy } from './upload-policy.js';
import type { SessionPeer } from './peer.js';

export interface NodeOptions {
  config: Config;
  log?: Logger;
  /** Seed of the scheduler's tie-break randomness (tests); default: random. */
  seed?: number;
}

const TICK_MS = 1000;
/** A step of a stop that takes this long is logged (leaving the swarm may wait up to 2 s on purpose). */
const SLOW_STOP_STEP_MS = 1000;
const BUSY_NOTICE: WaitingNotice = { waiting: 'the node is busy with another step (staging, activating, publishing or another command); this starts once it ends' };

/**
 * A running node: opens and closes the parts and wires them together — the swarm hands
 * connections to the peer table, the rollout (retried by the loop) brings the node to the newest
 * release, operator commands arrive on the control socket, and status.json says where it all is.
 */
export class ChunkswarmNode extends Resource {
  readonly config: Config;
  readonly isPublisher: boolean;
  private role!: Role;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly serial = new SerialQueue();
  /** Aborted when the node stops: what a step runs outside this process (a hook) is killed, not waited for. */
  private readonly stopping = new AbortController();
  private lock: DataLock | null = null;
  private deployer!: Deployer;
  private heads!: HeadBook;
  private swarm!: Swarm;
  private bootstrap: BootstrapNode | null = null;
  private peers!: PeerTable;
  private rollout!: Rollout;
  private loop!: RetryLoop;
  private control: ControlServer | null = null;
  private membership!: MembershipAdmin;
  private gossip!: MembershipGossip;
  private joinServer: JoinServer | null = null;
  private upload!: UploadPolicy;
  private verifier: PeriodicVerify | null = null;
  /** Whether the object store's index (ObjectStore.index) has been asked for since the start. */
  private objectsIndexed = false;
  private timer: NodeJS.Timeout | null = null;
  private headsWatch: FSWatcher | null = null;
  private reporter!: NodeReport;
  private publishes!: NodePublish;
  private fleet!: FleetGossip;
  private http: NodeHttp | null = null;

  constructor(opts: NodeOptions) {
    super();
    this.config = opts.config;
    this.log = opts.log ?? silentLogger;
    this.random = opts.seed === undefined ? Math.random : seededRandom(opts.seed);
    this.isPublisher = opts.config.publisher !== null;
  }

  get publicKey(): string {
    return this.swarm.publicKey;
  }

  protected async open(): Promise<void> {
    const c = this.config;
    const publisher = this.isPublisher;
    const secret = await readClusterSecret(c.cluster.secretFile);
    this.deployer = await Deployer.open(c, { log: this.log, signal: this.stopping.signal, onLiveCheck: (found) => this.verifier?.record(found, { log: false }) });
    this.lock = await DataLock.acquire(c.dataDir, 'serve');
    for (const r of this.deployer.recovered) this.log.warn(`recovered: ${r}`);
    if (c.bootstrapNodes.length === 0) {
      throw new ChunkswarmError('E_NO_BOOTSTRAP', `no bootstrap node in ${c.configPath} (network.bootstrap): chunkswarm never uses the public DHT`);
    }
    this.role = publisher ? publisherRole : followerRole({
      deployer: this.deployer, serial: this.serial, log: this.log,
      activated: () => {
        this.verifier?.activated();
        this.fleet.reportSoon();
      },
    });
    this.heads = new HeadBook(this.deployer.releases, Buffer.from(c.cluster.publisherKey, 'hex'));
    await this.heads.reload();
    this.membership = await MembershipAdmin.open(c, { signed: (r) => this.gossip.signed(r) });
    const allowlist = this.membership.book.allowlist();
    const server = new PieceServer(this.deployer.objects, this.deployer.chunkIndex);
    const connected = new Map<string, SessionPeer>();
    const seed = await nodeSeed(c.dataDir);
    const remembered = await BootstrapMemory.load(c.dataDir);
    // The operator's list first; then the frontends' bootstrap nodes seen before, in case the listed are down.
    const bootstrapNodes = mergeBootstrapNodes(c.bootstrapNodes, remembered.nodes, Infinity);
    if (c.network.bootstrapPort !== null) {
      const started = startBootstrapNode({ host: c.network.host, port: c.network.bootstrapPort, peers: bootstrapNodes });
      // Tokens send new nodes to the publisher's, which must run; a frontend's is a spare way in for its peers.
      this.bootstrap = publisher ? await started : await started.catch((err: unknown) => {
        const e = ChunkswarmError.fromSystem(err, 'starting the DHT bootstrap node');
        this.log.warn(`${e.message}: this node runs none (network.bootstrapPort ${c.network.bootstrapPort}): it still finds the swarm, but its peers cannot find the swarm through it`, { code: e.code });
        return null;
      });
      if (this.bootstrap) this.log.info(`DHT bootstrap node on ${this.bootstrap.host}:${this.bootstrap.port}`);
    }
    // Its own bootstrap node too: what it announces there is found by every node that remembers
    // that bootstrap node, also while the listed ones are down.
    const own = this.bootstrap ? [this.bootstrap] : [];
    this.fleet = new FleetGossip({
      config: c, seed, driftDir: this.deployer.releases.driftDir, log: this.log, peers: () => this.peers, status: () => this.reporter.full(),
      random: this.random, bootstrapPort: () => this.bootstrap?.port ?? null, memory: remembered,
      ...(!publisher && { preserveDrift: () => this.serial.run(async () => void (await this.deployer.preserveLiveDrift())) }),
    });
    this.fleet.book.setAllowlist(allowlist);
    this.upload = new UploadPolicy(connected, { publisher, uploadSlots: c.limits.uploadSlots, clock: systemClock, random: this.random });
    this.swarm = new Swarm({
      clusterSecret: secret,
      bootstrap: mergeBootstrapNodes(bootstrapNodes, own, Infinity),
      keySeed: seed,
      maxPeers: c.limits.maxPeers,
      host: c.network.host,
      dhtPort: c.network.dhtPort,
      directPort: c.network.port,
      ...(allowlist && { allowlist }),
      membershipRecord: () => (this.membership.book.enforced ? this.membership.book.text : null),
      limits: {
        uploadBytesPerSec: c.limits.uploadBytesPerSec,
        downloadBytesPerSec: c.limits.downloadBytesPerSec,
        perPeerUploadBytesPerSec: c.limits.perPeerUploadBytesPerSec,
      },
    });
    this.gossip = new MembershipGossip({
      book: this.membership.book, self: this.swarm.publicKey, log: this.log,
      enforce: (keys) => {
        this.swarm.setAllowlist(keys);
        this.fleet.book.setAllowlist(keys);
      },
      spread: () => this.peers.broadcastStatus(),
    });
    this.peers = new PeerTable({
      config: c, localKey: this.swarm.publicKey, publisher, connected, heads: this.heads, store: server, upload: this.upload, log: this.log,
      ...(publisher && c.limits.objectClients !== null && { objectAdmission: new ObjectAdmission({ slots: c.limits.objectClients, clock: systemClock }) }),
      membership: { text: () => this.membership.book.text, offer: (from, text) => this.gossip.offer(from, text) },
      download: () => this.rollout.download,
      onNewHead: () => this.onNewHead(),
      fleet: this.fleet,
    });
    this.rollout = new Rollout({
      config: c, role: this.role, deployer: this.deployer, heads: this.heads, server, upload: this.upload, peers: this.peers,
      serial: this.serial, random: this.random, log: this.log, closed: () => this.closed,
    });
    this.loop = new RetryLoop({
      clock: systemClock,
      attempt: () => this.rollout.attempt(),
      onError: (e, retryMs) => {
        this.log.error(`${e.message} (next attempt in ${Math.round(retryMs / 1000)} s)`, { code: e.code, ...this.target() });
        this.fleet.reportSoon();
      },
    });
    // The publisher makes no release live: it serves them from its store, so there is no tree to check.
    if (!publisher) {
      this.verifier = new PeriodicVerify({
        everyMs: c.verify.intervalSec * 1000, deployer: this.deployer, log: this.log,
        fail: (err) => this.logError(err, 'verifying the live tree'),
      });
    }
    this.reporter = new NodeReport({
      config: c, log: this.log, role: this.role, deployer: this.deployer, heads: this.heads, rollout: this.rollout, upload: this.upload,
      peers: this.peers, swarm: this.swarm, loop: this.loop, verifier: this.verifier, membership: this.membership, gossip: this.gossip,
      http: () => this.http, closed: () => this.closed,
    });
    this.publishes = new NodePublish({ config: c, deployer: this.deployer, heads: this.heads, serial: this.serial, log: this.log, reloadHeads: () => this.reloadHeads() });
    this.control = await ControlServer.listen(c.dataDir, (cmd, notify) => this.command(cmd, notify));
    if (c.metrics.listen !== null) {
      this.http = await NodeHttp.start({
        config: c, log: this.log, driftDir: this.deployer.releases.driftDir, releaseDir: (v) => this.deployer.releases.releasePath(v),
        status: () => this.reporter.full(), fleet: () => this.fleet.view(),
      });
      // Before any peer: a release that arrives from now on is timed from its arrival.
      await this.http.tick();
    }
    this.swarm.on('peer', (p) => {
      this.fleet.book.connected(p.publicKey, p.remoteAddress);
      this.peers.add(p);
      // A new node in the swarm is a new DHT node, maybe closer to the join key than those holding its announce.
      this.joinServer?.refresh();
    });
    this.swarm.on('refused', (key, address, reason) => this.fleet.book.refused(key, address, reason, Date.now()));
    // Checked like any copy of the record: a newer one that leaves this node out is how it learns it was removed.
    this.swarm.on('turned-away', (key, record) => this.gossip.offer(key, record));
    this.swarm.on('direct-unavailable', (e) => {
      this.log.warn(`${e.message}: this node takes no direct connections; its peers reach it over hyperswarm, and it still uses theirs. Give each node on a machine a network.port of its own`, { code: e.code });
    });
    await this.swarm.ready();
    this.log.info(`node ${this.swarm.publicKey.slice(0, 12)} joined the cluster${publisher ? ' as publisher' : ''}`);
    if (publisher) {
      const m = this.membership;
      this.joinServer = await JoinServer.listen(this.swarm.dht!, m.joinKeyPair, (req, key) => m.redeem(req, key), this.log);
    }
    this.timer = setInterval(() => this.tick(), TICK_MS);
    // A publish is seen at once rather than at the next tick; the tick's reload stays the fallback
    // (inotify may be unavailable, or miss events on some file systems).
    try {
      this.headsWatch = watch(this.deployer.releases.headsDir, () => void this.reloadHeads());
      this.headsWatch.on('error', () => this.headsWatch?.close());
    } catch {
      this.headsWatch = null;
    }
    this.loop.kick();
  }

  protected async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.headsWatch?.close();
    // A stop that keeps an operator (or systemd) waiting says what it waits for.
    const step = async (what: string, done: Promise<unknown> | undefined) => {
      const started = performance.now();
      await done;
      const ms = performance.now() - started;
      if (ms >= SLOW_STOP_STEP_MS) this.log.info(`stopping: ${what} took ${(ms / 1000).toFixed(1)} s`);
    };
    await step('the control socket', this.control?.close());
    await step('the HTTP endpoint', this.http?.close());
    await step('the join server', this.joinServer?.close());
    this.rollout?.stop();
    this.stopping.abort();
    await step('the step in progress', this.loop?.stop());
    await step('the peer connections', this.peers?.closeAll());
    await step('leaving the swarm', this.swarm?.close());
    await step('the DHT bootstrap node', this.bootstrap?.close());
    await this.reporter?.write('stopped').catch(() => undefined);
    await this.lock?.release();
  }

  /**
   * A request on the control socket: `status` is answered from memory; an operator command runs
   * between deploy steps, and the loop then moves on from the new intent.
   */
  private async command(cmd: ControlRequest, notify: (notice: unknown) => void): Promise<unknown> {
    if (cmd.op === 'status') return this.reporter.full();
    if (cmd.op === 'publish') return this.publishes.run(cmd, notify);
    if (cmd.op === 'prescan') return this.publishes.prescan(cmd);
    if (cmd.op === 'verify') return this.verifyNow(cmd.deep ?? false, notify);
    if (cmd.op === 'fleet') return this.fleet.view();
    if (cmd.op === 'drift-pull') return this.fleet.pull(cmd.node, cmd.record ?? '');
    if (isMembershipCommand(cmd)) {
      if (cmd.op !== 'members' && cmd.op !== 'token-list') this.log.info(`operator: ${cmd.op}${'key' in cmd ? ` ${cmd.key.slice(0, 12)}` : ''}`, 'key' in cmd ? { peer: cmd.key } : {});
      return this.membership.run(cmd);
    }
    this.log.info(`operator: ${cmd.op}${'version' in cmd && cmd.version !== undefined ? ` ${cmd.version}` : ''}`);
    const stages = cmd.op === 'activate' || cmd.op === 'rollback';
    let told = false;
    const tellOnce = (notice: unknown) => {
      if (!told) notify(notice);
      told = true;
    };
    if (stages) this.rollout.hold();
    try {
      if (stages && this.loop.busy) {
        tellOnce(BUSY_NOTICE);
        await this.loop.idle();
      }
      return await this.afterCurrentStep(tellOnce, () => runNodeCommand(this.deployer, cmd));
    } finally {
      if (stages) this.rollout.letGo();
      this.loop.kick(true);
    }
  }

  /** An operator's verify, between deploy steps like node commands; status reports it as the periodic one. */
  private async verifyNow(deep: boolean, notify: (notice: unknown) => void): Promise<VerifyResult> {
    this.log.info(`operator: verify${deep ? ' --deep' : ''}`);
    const r = await this.afterCurrentStep(notify, () => this.deployer.verify({ deep }));
    this.verifier?.record(r);
    return r;
  }

  /** Runs an operator's job between the node's steps; one that must wait (a large staging takes minutes) says so. */
  private afterCurrentStep<T>(notify: (notice: unknown) => void, job: () => Promise<T>): Promise<T> {
    return this.serial.run(job, () => notify(BUSY_NOTICE));
  }

  private logError(err: unknown, doing: string): void {
    const e = ChunkswarmError.fromSystem(err, doing);
    this.log.error(e.message, { code: e.code });
  }

  /** The release a log line about the rollout is about. */
  private target(): LogFields {
    const v = this.heads.latest?.body.version;
    return v === undefined ? {} : { release: v };
  }

  private onNewHead(): void {
    this.rollout.supersede();
    this.loop.kick(true);
    this.fleet.reportSoon();
  }

  private tick(): void {
    this.rollout.download?.tick();
    this.upload.tick();
    void this.reloadHeads();
    void this.verifier?.maybeRun(this.rollout.phase === 'seeding');
    // Once settled after the start, while nothing else runs: the first release to arrive then finds it made.
    if (!this.objectsIndexed && this.rollout.phase === 'seeding') {
      this.objectsIndexed = true;
      void this.serial.run(async () => this.deployer.objects.index()).catch((err: unknown) => this.logError(err, 'indexing the object store'));
    }
    void this.fleet.tick().catch((err: unknown) => this.logError(err, 'making the fleet report'));
    void this.http?.tick().catch((err: unknown) => this.logError(err, 'sampling metrics'));
    this.reporter.writeEachTick();
  }

  /** A head that `publish` (or `republish`) stored locally goes out to every peer. */
  private reloadHeads(): Promise<void> {
    return this.heads.reload().then((newer) => {
      if (!newer) return;
      const v = this.heads.latest!.body.version;
      if (!this.publishes.running) this.log.info(`release ${v} found in the local store`, { release: v });
      this.peers.broadcastHead();
      this.onNewHead();
    }, (err) => this.logError(err, 'reading release heads'));
  }

  /** What serve's progress line needs, without the whole report (null while nothing downloads). */
  progress(): ReturnType<NodeReport['progress']> {
    return this.reporter.progress();
  }
}
