import { watch, type FSWatcher } from 'node:fs';
import { ChunkswarmError, Resource, isChunkswarmError, isHex64, systemClock, type ObjectHash, type ReleaseId } from '../core/index.js';
import { readClusterSecret, type Config } from '../config/index.js';
import { releaseId, releasePieces, type SignedRelease } from '../manifest/index.js';
import { Deployer, canActivate, type Stager } from '../deploy/index.js';
import { seededRandom } from '../scheduler/index.js';
import { Swarm, startBootstrapNode, type BootstrapNode, type Peer } from '../swarm/index.js';
import { Bitfield, PeerWire, wirePeerId, type NodeStatus } from '../wire/index.js';
import { Download } from './download.js';
import { FloodGuard } from './flood-guard.js';
import { HeadBook } from './heads.js';
import { nodeSeed } from './identity.js';
import { fetchObjects, requestObject, type ObjectSources } from './object-fetch.js';
import type { SessionPeer } from './peer.js';
import { PeriodicVerify } from './periodic-verify.js';
import { PieceServer } from './piece-server.js';
import { writeStatus, type NodeStatusReport, type Phase } from './status.js';
import { UploadPolicy } from './upload-policy.js';
import { Traffic } from './traffic.js';

export interface NodeOptions {
  config: Config;
  log?: (line: string) => void;
  /** Seed of the scheduler's tie-break randomness (tests); default: random. */
  seed?: number;
}

const TICK_MS = 1000;
const OBJECT_TIMEOUT_MS = 10_000;
const MAX_EXT_MESSAGE = 16 << 20;
const RETRY_MS = 10_000;
/**
 * Requests beyond a peer's outstanding limit are declined; this many times the limit within one
 * FloodGuard window is no pipelining slip but a flood, and bans the peer.
 */
const FLOOD_FACTOR = 16;
/** Banned keys a status message carries, and takes from a peer. */
const MAX_REPORTED_BANS = 256;

/**
 * A running node: the one place that wires swarm -> wire -> scheduler -> store -> deploy. It
 * serves every piece space it holds, follows newer signed releases, fetches them into staging,
 * activates them (unless pinned, or it is the publisher) and reports its state to status.json.
 */
export class ChunkswarmNode extends Resource {
  readonly config: Config;
  readonly isPublisher: boolean;
  private readonly log: (line: string) => void;
  private readonly random: () => number;
  private deployer!: Deployer;
  private heads!: HeadBook;
  private swarm!: Swarm;
  private bootstrap: BootstrapNode | null = null;
  private server!: PieceServer;
  private readonly peers = new Map<string, SessionPeer>();
  private readonly banned = new Map<string, string>();
  private readonly refused: NodeStatusReport['refusedHeads'] = [];
  private readonly traffic = new Traffic();
  private readonly upload: UploadPolicy;
  private download: Download | null = null;
  private advancing: Promise<void> | null = null;
  private again = false;
  private phase: Phase = 'starting';
  private objectsFetched = 0;
  private lastError: NodeStatusReport['lastError'] = null;
  private verifier: PeriodicVerify | null = null;
  private timer: NodeJS.Timeout | null = null;
  private headsWatch: FSWatcher | null = null;
  private failedAt = 0;

  constructor(opts: NodeOptions) {
    super();
    this.config = opts.config;
    this.isPublisher = opts.config.publisher !== null;
    this.log = opts.log ?? (() => undefined);
    this.random = opts.seed === undefined ? Math.random : seededRandom(opts.seed);
    this.upload = new UploadPolicy(this.peers, {
      publisher: this.isPublisher, uploadSlots: opts.config.limits.uploadSlots, clock: systemClock, random: this.random,
    });
  }

  get publicKey(): string {
    return this.swarm.publicKey;
  }

  protected async open(): Promise<void> {
    const c = this.config;
    const secret = await readClusterSecret(c.cluster.secretFile);
    this.deployer = await Deployer.open(c, { log: this.log });
    for (const r of this.deployer.recovered) this.log(`recovered: ${r}`);
    // The publisher makes no release live: it serves them from its store, so there is no tree to check.
    if (!this.isPublisher) {
      this.verifier = new PeriodicVerify({ everyMs: c.verify.intervalSec * 1000, deployer: this.deployer, log: this.log, fail: (err) => this.fail(err) });
    }
    this.heads = new HeadBook(this.deployer.releases, Buffer.from(c.cluster.publisherKey, 'hex'));
    await this.heads.reload();
    this.server = new PieceServer(this.deployer.objects, this.deployer.chunkIndex);
    if (c.network.bootstrapPort !== null) {
      this.bootstrap = await startBootstrapNode({ host: c.network.host, port: c.network.bootstrapPort, peers: c.bootstrapNodes });
      this.log(`DHT bootstrap node on ${this.bootstrap.host}:${this.bootstrap.port}`);
    }
    if (c.bootstrapNodes.length === 0) {
      throw new ChunkswarmError('E_NO_BOOTSTRAP', `no bootstrap node in ${c.configPath} (network.bootstrap): chunkswarm never uses the public DHT`);
    }
    this.swarm = new Swarm({
      clusterSecret: secret,
      bootstrap: c.bootstrapNodes,
      keySeed: await nodeSeed(c.dataDir),
      maxPeers: c.limits.maxPeers,
      host: c.network.host,
      ...(c.network.allowlist && { allowlist: c.network.allowlist }),
      limits: {
        uploadBytesPerSec: c.limits.uploadBytesPerSec,
        downloadBytesPerSec: c.limits.downloadBytesPerSec,
        perPeerUploadBytesPerSec: c.limits.perPeerUploadBytesPerSec,
      },
    });
    this.swarm.on('peer', (p) => this.onPeer(p));
    await this.swarm.ready();
    this.log(`node ${this.swarm.publicKey.slice(0, 12)} joined the cluster${this.isPublisher ? ' as publisher' : ''}`);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    // A publish is seen at once rather than at the next tick; the tick's reload stays the fallback
    // (inotify may be unavailable, or miss events on some file systems).
    try {
      this.headsWatch = watch(this.deployer.releases.headsDir, () => this.reloadHeads());
      this.headsWatch.on('error', () => this.headsWatch?.close());
    } catch {
      this.headsWatch = null;
    }
    this.kick();
  }

  protected async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.headsWatch?.close();
    this.download?.stop();
    await this.advancing?.catch(() => undefined);
    for (const p of this.peers.values()) await p.wire.close().catch(() => undefined);
    await this.swarm?.close();
    await this.bootstrap?.close();
    this.phase = 'stopped';
    await this.writeStatus().catch(() => undefined);
  }

  /** Runs advance() now, or once more after the run in progress. */
  private kick(): void {
    if (this.closed) return;
    if (this.advancing) {
      this.again = true;
      return;
    }
    this.advancing = this.advance()
      .then(() => {
        this.lastError = null;
      })
      .catch((err) => this.fail(err))
      .finally(() => {
        this.advancing = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private fail(err: unknown): void {
    const e = isChunkswarmError(err) ? err : ChunkswarmError.fromSystem(err, 'running the node');
    this.lastError = { code: e.code, message: e.message };
    this.failedAt = Date.now();
    this.log(`error: ${e.code}: ${e.message}`);
  }

  /** Brings this node to the newest known release: fetch, stage, activate, serve. */
  private async advance(): Promise<void> {
    const target = this.heads.latest;
    if (!target) {
      this.phase = 'idle';
      return;
    }
    const v = target.body.version;
    const id = releaseId(target.body);
    if (this.upload.space?.release === id && !this.download) return;
    if (!(await this.deployer.releases.materialized()).includes(v)) {
      if (this.isPublisher) return;
      const stager = await this.fetch(target, id);
      if (!stager || this.superseded(target)) return;
      this.phase = 'activating';
      await stager.complete();
      this.log(`release ${v} staged (${stager.written} pieces fetched, ${stager.copied} copied locally)`);
    }
    if (!this.isPublisher && canActivate(await this.deployer.state(), v)) {
      this.phase = 'activating';
      await this.deployer.activate(v);
      const gc = await this.deployer.gc().catch(() => null);
      if (gc && gc.removed.length > 0) this.log(`gc: removed releases ${gc.removed.join(', ')}, freed ${gc.freedBytes} bytes`);
    }
    if (this.upload.space?.release !== id) {
      const pieces = await this.pieces(target);
      this.server.serveRelease(id, pieces);
      this.upload.setSpace({ release: id, version: v, have: Bitfield.full(pieces.length) });
    }
    this.phase = 'seeding';
  }

  private superseded(target: SignedRelease): boolean {
    return this.heads.latest?.body.version !== target.body.version;
  }

  private async pieces(r: SignedRelease) {
    const o = this.deployer.objects;
    return releasePieces(r.body.root, (h) => o.getTree(h), (h) => o.getFile(h));
  }

  /** Objects, then pieces, of a release this node lacks. Null if a newer head superseded it. */
  private async fetch(target: SignedRelease, id: ReleaseId): Promise<Stager | null> {
    this.phase = 'objects';
    const sources: ObjectSources = {
      release: id,
      peers: () => [...this.peers.values()],
      random: this.random,
      timeoutMs: OBJECT_TIMEOUT_MS,
      cancelled: () => this.closed || this.superseded(target),
      wrongObject: (p, hash) => this.ban(p, `sent a wrong object for ${hash}`),
    };
    const got = await fetchObjects(target.body.root, this.deployer.objects, (h) => requestObject(h, sources));
    this.objectsFetched += got.fetched;
    if (this.superseded(target) || this.closed) return null;
    const stager = await this.deployer.stage(target);
    this.server.serve(id, (i) => stager.readPiece(i));
    this.upload.setSpace({ release: id, version: target.body.version, have: new Bitfield(stager.pieces.length, stager.bitfield()) });
    this.phase = 'pieces';
    // These two lines (timestamped by `serve`) delimit the pieces phase; bench/transfer reads them.
    const missing = stager.missing();
    const missingBytes = missing.reduce((n, i) => n + stager.pieces[i]!.size, 0);
    this.log(`release ${target.body.version}: fetching ${missing.length} of ${stager.pieces.length} pieces (${missingBytes} bytes)`);
    const dl = new Download({
      stager,
      clock: systemClock,
      random: this.random,
      scheduler: {
        maxRequestsPerPeer: this.config.limits.maxRequestsPerPeer,
        requestTimeoutMs: this.config.limits.requestTimeoutMs + 2000,
        unresponsiveMs: this.config.limits.requestTimeoutMs,
        // Two seconds of the download cap in flight keeps it busy; more only waits in queues.
        ...(this.config.limits.downloadBytesPerSec > 0 && { maxInflightBytes: 2 * this.config.limits.downloadBytesPerSec }),
      },
      onPiece: (i) => {
        if (this.upload.space?.release === id) this.upload.gained(i);
      },
      onBan: (p, reason) => this.ban(p, reason),
      onStall: (p, reason) => void this.probe(p, reason, target.body.root),
      log: this.log,
    });
    this.download = dl;
    for (const p of this.peers.values()) dl.addPeer(p);
    try {
      await dl.done;
      this.log(`release ${target.body.version}: all pieces received (${dl.duplicates} end-game duplicates)`);
    } catch (err) {
      if (!isChunkswarmError(err, 'E_CLOSED')) throw err;
      // Stopped for a newer release or a shutdown: keep what was written for the next attempt.
      await stager.close().catch(() => undefined);
      return null;
    } finally {
      this.download = null;
      dl.stop();
    }
    return stager;
  }

  /**
   * A peer that answers no piece request is either stalling on purpose or gone without the
   * connection noticing yet: one that still answers an object request is banned, a silent one is
   * only disconnected (a restarted node, e.g. the publisher, must be able to come back).
   */
  private async probe(p: SessionPeer, reason: string, root: ObjectHash): Promise<void> {
    const alive = await p.wire.requestObject(root, this.config.limits.requestTimeoutMs).then(
      () => true,
      (err: unknown) => !isChunkswarmError(err, 'E_TIMEOUT') && !isChunkswarmError(err, 'E_CLOSED'),
    );
    if (p.wire.closed) return;
    // A restarted or overloaded publisher must not be shut out for good: it is only disconnected.
    if (alive && !p.publisher) return this.ban(p, `stalls piece requests yet answers others: it ${reason}`);
    this.log(`peer ${p.key.slice(0, 12)} dropped: it ${reason}${alive ? '' : ', and answers nothing else either'}`);
    void p.wire.close();
  }

  private onPeer(peer: Peer): void {
    const key = peer.publicKey;
    if (this.banned.has(key)) {
      peer.stream.destroy();
      return;
    }
    const wire = new PeerWire({
      stream: peer.stream,
      clusterId: this.heads.clusterId,
      peerId: wirePeerId(Buffer.from(this.swarm.publicKey, 'hex')),
      store: this.server,
      limits: {
        maxMessageBytes: MAX_EXT_MESSAGE,
        maxOutstandingRequestsFromPeer: this.config.limits.maxRequestsPerPeer,
        requestTimeoutMs: this.config.limits.requestTimeoutMs,
      },
      beforeUpload: (_w, index) => this.upload.allow(key, index),
    });
    const p: SessionPeer = { key, wire, publisher: false };
    const flood = new FloodGuard(FLOOD_FACTOR * this.config.limits.maxRequestsPerPeer, (why) => this.ban(p, why));
    this.traffic.track(p);
    this.peers.get(key)?.wire.close().catch(() => undefined);
    this.peers.set(key, p);
    wire.on('ready', () => {
      wire.sendStatus(this.statusMessage());
      if (this.heads.latestBytes) wire.sendHead(this.heads.latestBytes);
      this.upload.peerReady(p);
      this.download?.addPeer(p);
    });
    wire.on('head', (bytes) => void this.onHead(p, bytes));
    wire.on('status', (s) => {
      p.publisher = s.publisher === true;
      if (this.isPublisher && Array.isArray(s.banned)) {
        this.upload.distrust(s.banned.filter((k): k is string => typeof k === 'string' && isHex64(k)).slice(0, MAX_REPORTED_BANS));
      }
    });
    wire.on('space', () => {
      this.download?.onSpace(p);
      this.upload.remoteSpace(p);
    });
    wire.on('have', (i) => {
      this.download?.onHave(p, i);
      this.upload.remoteHave(p, i);
    });
    wire.on('choke', () => this.download?.onChoke(p));
    wire.on('unchoke', () => this.download?.onUnchoke(p));
    wire.on('interested', () => this.upload.interested(key, true));
    wire.on('uninterested', () => this.upload.interested(key, false));
    wire.on('bad-piece', (i, reason) => this.ban(p, `bad piece ${i}: ${reason}`));
    wire.on('bad-peer', (reason) => this.log(`peer ${key.slice(0, 12)} dropped: ${reason}`));
    wire.on('abuse', (reason) => flood.count(reason));
    wire.on('error', (err) => this.log(`serving peer ${key.slice(0, 12)}: ${err.code}: ${err.message}`));
    wire.on('close', () => {
      this.traffic.closed(p);
      if (this.peers.get(key) !== p) return;
      this.peers.delete(key);
      this.download?.removePeer(key);
      this.upload.peerLeft(key);
    });
  }

  private async onHead(p: SessionPeer, bytes: Uint8Array): Promise<void> {
    const verdict = await this.heads.offer(bytes).catch((err: unknown) => ({ kind: 'refused' as const, error: ChunkswarmError.fromSystem(err, 'storing a release head') }));
    if (verdict.kind === 'refused') {
      const { code, message } = verdict.error;
      if (!this.refused.some((r) => r.peer === p.key && r.code === code)) {
        this.refused.push({ peer: p.key, code, message });
        this.log(`refused a release head from ${p.key.slice(0, 12)}: ${code}: ${message}`);
      }
      return;
    }
    if (verdict.kind === 'known') return;
    this.log(`release ${verdict.release.body.version} announced (${releaseId(verdict.release.body).slice(0, 12)})`);
    for (const other of this.peers.values()) if (other !== p) other.wire.sendHead(bytes);
    this.download?.stop();
    this.kick();
  }

  private ban(p: SessionPeer, reason: string): void {
    if (this.banned.has(p.key)) return;
    this.banned.set(p.key, reason);
    this.log(`banned peer ${p.key.slice(0, 12)}: ${reason}`);
    void p.wire.close();
    // The publisher stops counting the banned node's pieces as copies (UploadPolicy.distrust).
    for (const other of this.peers.values()) if (other !== p) other.wire.sendStatus(this.statusMessage());
  }

  private statusMessage(): NodeStatus {
    return { publisher: this.isPublisher, version: this.upload.space?.version ?? null, banned: [...this.banned.keys()].slice(-MAX_REPORTED_BANS) };
  }

  private tick(): void {
    // A failed step (a full disk, say) is tried again: the cause may have gone away.
    if (this.failedAt > 0 && Date.now() - this.failedAt >= RETRY_MS && !this.advancing) {
      this.failedAt = 0;
      this.kick();
    }
    this.download?.tick();
    this.upload.tick();
    this.reloadHeads();
    void this.verifier?.maybeRun(this.phase === 'seeding');
    void this.writeStatus().catch((err) => this.fail(err));
  }

  /** A head that `publish` (or `republish`) stored locally goes out to every peer. */
  private reloadHeads(): void {
    void this.heads.reload().then((newer) => {
      if (!newer) return;
      this.log(`release ${this.heads.latest!.body.version} found in the local store`);
      for (const p of this.peers.values()) p.wire.sendHead(this.heads.latestBytes!);
      this.kick();
    }, (err) => this.fail(err));
  }

  report(): NodeStatusReport {
    const progress = this.download?.scheduler.progress();
    const state = { live: this.upload.space?.version ?? null };
    return {
      node: this.swarm.publicKey,
      pid: process.pid,
      publisher: this.isPublisher,
      updated: new Date().toISOString(),
      phase: this.phase,
      live: state.live,
      pinned: false,
      newest: this.heads.latest ? { version: this.heads.latest.body.version, release: releaseId(this.heads.latest.body) } : null,
      progress: progress && this.heads.latest ? { version: this.heads.latest.body.version, ...progress } : null,
      unavailablePieces: this.download?.unavailablePieces() ?? 0,
      ...this.traffic.totals(),
      objectsFetched: this.objectsFetched,
      peers: this.traffic.peers(),
      banned: [...this.banned].map(([key, reason]) => ({ key, reason })),
      refusedHeads: this.refused,
      swarm: { ...this.swarm.stats() },
      verify: this.verifier?.report ?? null,
      lastError: this.lastError,
    };
  }

  private async writeStatus(): Promise<void> {
    const r = this.report();
    const state = await this.deployer.state();
    await writeStatus(this.config.dataDir, { ...r, live: state.live, pinned: state.pinned });
  }
}
