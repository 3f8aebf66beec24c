import { ChunkswarmError, isChunkswarmError, isHex64, type Logger, type ObjectHash } from '../core/index.js';
import type { Config } from '../config/index.js';
import { releaseId } from '../manifest/index.js';
import type { Peer } from '../swarm/index.js';
import { PeerWire, wirePeerId, type NodeStatus, type WireModel, type WireStore } from '../wire/index.js';
import type { Download } from './download.js';
import { FloodGuard } from './flood-guard.js';
import type { HeadBook } from './heads.js';
import type { SessionPeer } from './peer.js';
import type { NodeStatusReport } from './status.js';
import { Traffic } from './traffic.js';
import type { ObjectAdmission } from './object-admission.js';
import type { UploadPolicy } from './upload-policy.js';

const MAX_EXT_MESSAGE = 16 << 20;
/**
 * Requests beyond a peer's outstanding limit are declined; this many times the limit within one
 * FloodGuard window is no pipelining slip but a flood, and bans the peer.
 */
const FLOOD_FACTOR = 16;
/** Banned keys a status message carries, and takes from a peer. */
const MAX_REPORTED_BANS = 256;

export interface PeerTableOptions {
  config: Config;
  /** This node's hex public key. */
  localKey: string;
  publisher: boolean;
  /** The connected peers, by key; shared with the upload policy, which reads it. */
  connected: Map<string, SessionPeer>;
  heads: HeadBook;
  store: WireStore;
  upload: UploadPolicy;
  log: Logger;
  /** On the publisher: whose object requests it answers now (the others are told to ask elsewhere). */
  objectAdmission?: ObjectAdmission;
  /** The piece transfer in progress, if any: it hears of peers and their pieces. */
  download: () => Download | null;
  /** A newer valid release head arrived from a peer. */
  onNewHead: () => void;
  /** The signed membership record: on the status message of a new connection, and of broadcastStatus. */
  membership?: { text(): string | null; offer(from: string, text: string): void };
  /** The fleet gossip (fleet-gossip.ts): rides on status messages; drift records on their own messages. */
  fleet: {
    digest(): unknown;
    receive(from: string, items: unknown): void;
    answer(p: SessionPeer, digest: unknown): void;
    serveDrift(p: SessionPeer, id: number, record: string): Promise<void>;
  };
}

/**
 * The node's connections: one wire per authenticated peer, what each said of itself, the bans, and
 * the gossip of release heads and status messages between them.
 */
export class PeerTable {
  readonly traffic = new Traffic();
  private readonly peers: Map<string, SessionPeer>;
  private readonly banned = new Map<string, string>();
  private readonly refused: NodeStatusReport['refusedHeads'] = [];
  /** Date.now() when the last peer left (null: never had one, or has one now). */
  private aloneSince: number | null = null;
  private everConnected = false;

  constructor(private readonly o: PeerTableOptions) {
    this.peers = o.connected;
  }

  list(): SessionPeer[] {
    return [...this.peers.values()];
  }

  bans(): NodeStatusReport['banned'] {
    return [...this.banned].map(([key, reason]) => ({ key, reason }));
  }

  refusedHeads(): NodeStatusReport['refusedHeads'] {
    return this.refused;
  }

  /** Seconds alone since the last peer left; null if a peer is connected or none ever was. */
  aloneForSec(now = Date.now()): number | null {
    return this.everConnected && this.peers.size === 0 && this.aloneSince !== null ? (now - this.aloneSince) / 1000 : null;
  }

  add(peer: Peer): void {
    const key = peer.publicKey;
    if (this.banned.has(key)) {
      peer.stream.destroy();
      return;
    }
    const { config } = this.o;
    let p!: SessionPeer;
    const flood = new FloodGuard(FLOOD_FACTOR * config.limits.maxRequestsPerPeer, (why) => this.ban(p, why));
    const wire = new PeerWire({
      stream: peer.stream,
      clusterId: this.o.heads.clusterId,
      peerId: wirePeerId(Buffer.from(this.o.localKey, 'hex')),
      model: this.model(() => p, flood),
      limits: {
        maxMessageBytes: MAX_EXT_MESSAGE,
        maxOutstandingRequestsFromPeer: config.limits.maxRequestsPerPeer,
        requestTimeoutMs: config.limits.requestTimeoutMs,
      },
    });
    p = { key, wire, publisher: false, path: peer.path };
    this.traffic.track(p);
    const old = this.peers.get(key);
    if (old) {
      this.o.log.info(`peer ${key.slice(0, 12)} connected again (${peer.path}): the new connection replaces the old one`, { peer: key });
      old.wire.close().catch(() => undefined);
    }
    this.peers.set(key, p);
    this.everConnected = true;
    this.aloneSince = null;
  }

  /** What one connection tells the node: the session's side of the wire (WireModel). */
  private model(peer: () => SessionPeer, flood: FloodGuard): WireModel {
    const { store, upload, download, log } = this.o;
    return {
      ready: () => {
        const p = peer();
        p.wire.sendStatus({ ...this.statusMessage(true), fleetDigest: this.o.fleet.digest() });
        if (this.o.heads.latestBytes) p.wire.sendHead(this.o.heads.latestBytes);
        upload.peerReady(p);
        download()?.addPeer(p);
      },
      head: (bytes) => void this.onHead(peer(), bytes),
      status: (s) => {
        peer().publisher = s.publisher === true;
        if (typeof s.membership === 'string') this.o.membership?.offer(peer().key, s.membership);
        if (this.o.publisher && Array.isArray(s.banned)) {
          upload.distrust(s.banned.filter((k): k is string => typeof k === 'string' && isHex64(k)).slice(0, MAX_REPORTED_BANS));
        }
        if (s.fleet !== undefined) this.o.fleet.receive(peer().key, s.fleet);
        if (s.fleetDigest !== undefined) this.o.fleet.answer(peer(), s.fleetDigest);
      },
      driftRequest: (id, record) => {
        const p = peer();
        void this.o.fleet.serveDrift(p, id, record).catch((err: unknown) => {
          const e = ChunkswarmError.fromSystem(err, 'answering a drift record request');
          log.warn(`peer ${p.key.slice(0, 12)}: ${e.message}`, { peer: p.key, code: e.code });
        });
      },
      space: () => {
        download()?.onSpace(peer());
        upload.remoteSpace(peer());
      },
      have: (i) => {
        download()?.onHave(peer(), i);
        upload.remoteHave(peer(), i);
      },
      choked: (yes) => (yes ? download()?.onChoke(peer()) : download()?.onUnchoke(peer())),
      interested: (yes) => upload.interested(peer().key, yes),
      unchokers: (count) => upload.peerUnchokers(peer().key, count),
      allowUpload: (index) => upload.allow(peer().key, index),
      unreadable: (index) => upload.unreadable(peer().key, index),
      getObject: (hash) => (this.o.objectAdmission?.admit(peer().key) === false ? Promise.resolve(null) : store.getObject(hash)),
      readPiece: (space, index, alloc, range) => store.readPiece(space, index, alloc, range),
      badPiece: (i, reason) => this.ban(peer(), `bad piece ${i}: ${reason}`),
      abuse: (reason) => flood.count(reason),
      error: (err) => log.warn(`serving peer ${peer().key.slice(0, 12)}: ${err.code}: ${err.message}`, { peer: peer().key, code: err.code }),
      closed: (reason) => {
        const p = peer();
        if (isChunkswarmError(reason, 'E_BAD_PEER')) log.warn(`peer ${p.key.slice(0, 12)} dropped: ${reason.message}`, { peer: p.key });
        this.traffic.closed(p);
        if (this.peers.get(p.key) !== p) return;
        this.peers.delete(p.key);
        if (this.peers.size === 0) this.aloneSince = Date.now();
        download()?.removePeer(p.key);
        upload.peerLeft(p.key);
        this.o.objectAdmission?.free(p.key);
      },
    };
  }

  ban(p: SessionPeer, reason: string): void {
    if (this.banned.has(p.key)) return;
    this.banned.set(p.key, reason);
    this.o.log.warn(`banned peer ${p.key.slice(0, 12)}: ${reason}`, { peer: p.key });
    void p.wire.close();
    // The publisher stops counting the banned node's pieces as copies (UploadPolicy.distrust).
    this.broadcastStatus(p);
  }

  /**
   * A peer that answers no piece request is either stalling on purpose or gone without the
   * connection noticing yet: one that still answers an object request is banned, a silent one is
   * only disconnected (a restarted node, e.g. the publisher, must be able to come back).
   */
  async probe(p: SessionPeer, reason: string, root: ObjectHash): Promise<void> {
    const alive = await p.wire.requestObject(root, this.o.config.limits.requestTimeoutMs).then(
      () => true,
      (err: unknown) => !isChunkswarmError(err, 'E_TIMEOUT') && !isChunkswarmError(err, 'E_CLOSED'),
    );
    if (p.wire.closed) return;
    // A restarted or overloaded publisher must not be shut out for good: it is only disconnected.
    if (alive && !p.publisher) return this.ban(p, `stalls piece requests yet answers others: it ${reason}`);
    this.o.log.warn(`peer ${p.key.slice(0, 12)} dropped: it ${reason}${alive ? '' : ', and answers nothing else either'}`, { peer: p.key });
    void p.wire.close();
  }

  /** Sends the newest head to every peer but `except` (which told us). */
  broadcastHead(except?: SessionPeer): void {
    const bytes = this.o.heads.latestBytes;
    if (!bytes) return;
    for (const p of this.peers.values()) if (p !== except) p.wire.sendHead(bytes);
  }

  broadcastStatus(except?: SessionPeer): void {
    const m = this.statusMessage(true);
    for (const p of this.peers.values()) if (p !== except) p.wire.sendStatus(m);
  }

  /** Fleet reports to every peer, on a status message (whose other fields stay current). */
  sendFleet(reports: unknown[]): void {
    const m = { ...this.statusMessage(false), fleet: reports };
    for (const p of this.peers.values()) p.wire.sendStatus(m);
  }

  /** Fleet reports or a digest to one peer. */
  sendFleetTo(p: SessionPeer, m: { fleet?: unknown[]; fleetDigest?: unknown }): void {
    p.wire.sendStatus({ ...this.statusMessage(false), ...m });
  }

  async closeAll(): Promise<void> {
    for (const p of this.peers.values()) await p.wire.close().catch(() => undefined);
  }

  /**
   * `withMembership`: the record too. The fleet's messages leave it out: a peer got it when it
   * connected and gets every new one (MembershipGossip spreads it with broadcastStatus), and at 10^3
   * members it is ~100 KB.
   */
  private statusMessage(withMembership: boolean): NodeStatus {
    const membership = withMembership ? (this.o.membership?.text() ?? null) : null;
    return {
      publisher: this.o.publisher,
      version: this.o.upload.space?.version ?? null,
      banned: [...this.banned.keys()].slice(-MAX_REPORTED_BANS),
      ...(membership !== null && { membership }),
    };
  }

  private async onHead(p: SessionPeer, bytes: Uint8Array): Promise<void> {
    const verdict = await this.o.heads.offer(bytes).catch((err: unknown) => ({ kind: 'refused' as const, error: ChunkswarmError.fromSystem(err, 'storing a release head') }));
    if (verdict.kind === 'refused') {
      const { code, message } = verdict.error;
      if (!this.refused.some((r) => r.peer === p.key && r.code === code)) {
        this.refused.push({ peer: p.key, code, message });
        this.o.log.warn(`refused a release head from ${p.key.slice(0, 12)}: ${code}: ${message}`, { peer: p.key, code });
      }
      return;
    }
    if (verdict.kind === 'known') return;
    const v = verdict.release.body.version;
    this.o.log.info(`release ${v} announced (${releaseId(verdict.release.body).slice(0, 12)})`, { release: v });
    if (this.o.publisher) {
      // Only this master signs: a newer release than its own means its data directory is behind the cluster's.
      this.o.log.warn(
        `release ${v}, signed with this master's key, came from ${p.key.slice(0, 12)} and is newer than any in this master's data directory ` +
          `(restored from a backup? another master running with the same key?): the nodes ignore every release this master numbered ${v} or lower; ` +
          `its next publish is ${v + 1}`,
        { release: v, peer: p.key },
      );
    }
    this.broadcastHead(p);
    this.o.onNewHead();
  }
}
