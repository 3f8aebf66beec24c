import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import HyperDHT from 'hyperdht';
import Hyperswarm from 'hyperswarm';
import { ChunkswarmError, isChunkswarmError, isHex64, Resource, settlesWithin, systemClock, type Clock } from '../core/index.js';
import { authenticate } from './auth.js';
import type { BootstrapAddress } from './bootstrap.js';
import { BootstrapWatch, routingTableOf } from './bootstrap-watch.js';
import { DirectPaths, type AgreedPath } from './direct-paths.js';
import { encodeRefusal, RefusedByPeer } from './path-offer.js';
import { createDht } from './dht.js';
import { PeerStream } from './peer-stream.js';
import { RateLimiter, type RateLimits } from './rate-limit.js';
import { RefreshSchedule, REFRESH_ALONE_MS } from './refresh-schedule.js';
import { checkClusterSecret, deriveTopic } from './topic.js';

export interface SwarmOptions {
  /** 32 bytes shared by every node of the cluster; proves membership and derives the topic. */
  clusterSecret: Uint8Array;
  /** Required and never defaulted: an empty list would mean the public Hyperswarm DHT. */
  bootstrap: readonly BootstrapAddress[];
  /** 32 bytes; the same seed gives the same node public key across restarts. */
  keySeed?: Uint8Array;
  /** Hex public keys allowed to connect; unset = any node that knows the cluster secret. See setAllowlist(). */
  allowlist?: readonly string[];
  maxPeers?: number;
  authTimeoutMs?: number;
  /** Announce on the topic so that others can dial us (default true). */
  server?: boolean;
  /** Look up the topic and dial the peers found (default true). */
  client?: boolean;
  limits?: RateLimits;
  /** Address every socket binds to; default 127.0.0.1 if every bootstrap node is loopback, else 0.0.0.0. */
  host?: string;
  /** UDP port of the DHT and hyperswarm connections; unset: any free port. */
  dhtPort?: number | null;
  /**
   * TCP port of the direct path (on `host`; 0: any free port): peers that reach it move their
   * traffic off hyperswarm onto TCP. Unset: no listener (this node still dials others' direct paths).
   */
  directPort?: number | null;
  /**
   * The text of the signed membership record the allowlist comes from, if any: a node that proves
   * the cluster secret but is not on the allowlist is sent it (REFUSED) instead of being dropped
   * unheard, so that it can tell its operator it was removed, or is not admitted yet.
   */
  membershipRecord?: () => string | null;
  clock?: Clock;
}

/** How an authenticated peer's bytes travel: a direct TCP connection, or the hyperswarm (UDX) one. */
export type PeerPath = 'tcp' | 'hyperswarm';

/** An authenticated peer. `stream` carries only application bytes. */
export interface Peer {
  readonly stream: Duplex;
  readonly publicKey: string;
  readonly remoteAddress: string;
  /** True if we dialed this peer (over hyperswarm). */
  readonly initiator: boolean;
  readonly path: PeerPath;
}

/** Refused keys remembered for status: enough to name a few, bounded against a stranger cycling keys. */
const REFUSED_KEYS_KEPT = 64;

export interface SwarmStats {
  /** Connections open now, authenticated or not. */
  connected: number;
  /** Authenticated peers open now. */
  authenticated: number;
  /** Since start: connections dropped for a wrong, malformed or missing proof of the secret. */
  authFailures: number;
  /** Since start: the part of authFailures where the peer stayed silent past authTimeoutMs. */
  authTimeouts: number;
  /** Since start: connections refused because the remote key is not in the allowlist. */
  rejectedAllowlist: number;
  /** Authenticated peers open now whose traffic takes the direct TCP path. */
  direct: number;
}

export interface SwarmEvents {
  /** One authenticated connection. hyperswarm may briefly hold two connections to one key (it
   * then drops one), so a publicKey can show up twice; each Peer object is one connection. */
  peer: [peer: Peer];
  /** `reason`: the peer's protocol violation or the transport error, if any. */
  'peer-closed': [peer: Peer, reason: Error | undefined];
  /** A node was turned away before it authenticated: not in the allowlist, or no proof of the secret. */
  refused: [publicKey: string, remoteAddress: string | null, reason: string];
  /** A peer turned this node away, sending the membership record it enforces (not yet checked). */
  'turned-away': [publicKey: string, record: string];
  /**
   * The direct path's port could not be bound (another process holds it): this node runs without
   * a listener, its peers reach it over hyperswarm, and it still takes their direct paths.
   */
  'direct-unavailable': [error: ChunkswarmError];
}

export const DEFAULT_AUTH_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_PEERS = 64;
const GRACEFUL_CLOSE_MS = 2000;
/** A turned-away peer that keeps its end open after our refusal is cut off after this. */
const TURN_AWAY_MS = 2000;

/**
 * Membership of the cluster's swarm: finds the other nodes through the DHT, proves and checks
 * knowledge of the cluster secret on every connection, and hands out authenticated (and, if
 * configured, rate-limited) duplex streams. Knows nothing about what flows over them.
 */
export class Swarm extends Resource {
  readonly publicKey: string;
  private readonly opts: SwarmOptions;
  private readonly keyPair: HyperDHT.KeyPair;
  private readonly topic: Buffer;
  private allowlist: ReadonlySet<string> | null;
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly events = new EventEmitter();
  private readonly peerSet = new Set<Peer>();
  private readonly counters: SwarmStats = { connected: 0, authenticated: 0, authFailures: 0, authTimeouts: 0, rejectedAllowlist: 0, direct: 0 };
  /** Keys refused by the allowlist and not on it since, oldest first (at most REFUSED_KEYS_KEPT). */
  private readonly refusedKeys = new Set<string>();
  private lastAuthFailure: number | null = null;
  /** The address every socket binds to. */
  private readonly host: string;
  private readonly paths: DirectPaths;
  private hyperswarm: Hyperswarm | null = null;
  private discovery: Hyperswarm.PeerDiscoverySession | null = null;
  private refreshTimer: { cancel(): void } | null = null;
  private watch: BootstrapWatch | null = null;
  private readonly refreshSchedule = new RefreshSchedule();

  constructor(opts: SwarmOptions) {
    super();
    checkClusterSecret(opts.clusterSecret);
    if (!opts.bootstrap || opts.bootstrap.length === 0) {
      throw new ChunkswarmError(
        'E_NO_BOOTSTRAP',
        'no DHT bootstrap node configured: set "bootstrap" to the host:port of at least one cluster node ' +
          '(the master runs one, see `chunkswarm serve --bootstrap-port`); the public Hyperswarm DHT is never used',
      );
    }
    for (const { host, port } of opts.bootstrap) {
      if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw ChunkswarmError.config('bootstrap', `${JSON.stringify({ host, port })} is not a host and UDP port`);
      }
    }
    if (opts.keySeed && opts.keySeed.byteLength !== 32) throw ChunkswarmError.config('keySeed', 'must be 32 bytes');
    checkAllowlist(opts.allowlist ?? []);
    if (opts.server === false && opts.client === false) throw ChunkswarmError.config('swarm', 'a node must be a server, a client or both');
    this.opts = opts;
    this.keyPair = HyperDHT.keyPair(opts.keySeed);
    this.publicKey = this.keyPair.publicKey.toString('hex');
    this.topic = deriveTopic(opts.clusterSecret);
    this.allowlist = opts.allowlist ? new Set(opts.allowlist) : null;
    this.clock = opts.clock ?? systemClock;
    this.limiter = new RateLimiter(opts.limits ?? {}, this.clock);
    this.host = opts.host ?? (opts.bootstrap.every((b) => isLoopback(b.host)) ? '127.0.0.1' : '0.0.0.0');
    this.paths = new DirectPaths({
      keyPair: this.keyPair, clock: this.clock, clusterSecret: opts.clusterSecret, host: this.host, authTimeoutMs: this.authTimeoutMs,
      allows: (key) => this.allows(key), closed: () => this.closed, refused: (timeout) => this.countAuthFailure(timeout),
    });
  }

  on<E extends keyof SwarmEvents>(event: E, listener: (...args: SwarmEvents[E]) => void): this {
    this.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof SwarmEvents>(event: E, listener: (...args: SwarmEvents[E]) => void): this {
    this.events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  get peers(): readonly Peer[] {
    return [...this.peerSet];
  }

  stats(): SwarmStats {
    return { ...this.counters };
  }

  /**
   * The keys refused since start that the allowlist still does not hold: a node refused for a
   * moment (one that connected before the membership that admits it arrived) is not among them.
   */
  refusedNow(): string[] {
    return [...this.refusedKeys];
  }

  /** When the last connection failed the cluster-secret check (ms since the epoch), or null. */
  get lastAuthFailureAt(): number | null {
    return this.lastAuthFailure;
  }

  /** The bound port of the direct path, or null if this node has none. */
  get directPort(): number | null {
    return this.paths.port;
  }

  /** Announces and/or looks up the topic again now, instead of waiting for the next round. */
  async refresh(): Promise<void> {
    if (!this.discovery || this.closed) return;
    await this.discovery.refresh().catch(() => undefined);
  }

  protected async open(): Promise<void> {
    const listed = this.opts.bootstrap.map(({ host, port }) => ({ host, port }));
    const { host } = this;
    if (this.opts.directPort !== undefined && this.opts.directPort !== null) {
      await this.paths.listen(this.opts.directPort).catch((err: unknown) => {
        // DirectListener.listen names the address and the setting already.
        this.events.emit('direct-unavailable', ChunkswarmError.fromSystem(err, 'listening for peers (network.port)'));
      });
    }
    // No bootstrap list for hyperdht: the watch puts each listed node in its table once it answers.
    const dht = createDht({ bootstrap: [], host, port: this.opts.dhtPort, keyPair: this.keyPair });
    this.watch = new BootstrapWatch(routingTableOf(dht), listed, { clock: this.clock, found: () => void this.refresh() });
    await this.watch.start();
    const hyperswarm = new Hyperswarm({
      dht,
      keyPair: this.keyPair,
      maxPeers: this.opts.maxPeers ?? DEFAULT_MAX_PEERS,
      // With a membership record to show, a key off the allowlist is let through to prove the
      // cluster secret and be told why it is refused (turnAway); a stranger fails that proof.
      firewall: (remoteKey) => !this.opts.membershipRecord?.() && this.refuse(remoteKey),
    });
    this.hyperswarm = hyperswarm;
    hyperswarm.on('connection', (conn) => this.onConnection(conn));
    const server = this.opts.server ?? true;
    const client = this.opts.client ?? true;
    // Look up before announcing: a server's refresh first waits for its announce, which waits out
    // every dead node the DHT still knows of (the stopped publisher's: ~6 s each, as hyperdht tries
    // 6 times), while a lookup hands out the peers it finds within milliseconds.
    const discovery = (this.discovery = hyperswarm.join(this.topic, { server: server && !client, client }));
    if (server && client) {
      void discovery.flushed().then(() => !this.closed && discovery.refresh({ server: true, client: true }));
    } else if (server) {
      await discovery.flushed();
    }
    this.scheduleRefresh();
  }

  protected async shutdown(): Promise<void> {
    this.refreshTimer?.cancel();
    this.watch?.stop();
    for (const peer of this.peerSet) peer.stream.destroy();
    await this.paths.close();
    const hyperswarm = this.hyperswarm;
    if (!hyperswarm) return;
    // Unannouncing needs the DHT; if the bootstrap is already gone, do not hang on it: destroying
    // the DHT's sockets fails the pending queries.
    const graceful = hyperswarm.destroy().catch(() => undefined);
    if (!(await settlesWithin(graceful, GRACEFUL_CLOSE_MS, this.clock))) {
      await hyperswarm.dht.destroy({ force: true }).catch(() => undefined);
      await graceful;
    }
  }

  /** The DHT node the swarm runs on (null before ready()): other services may listen on it under their own keys. */
  get dht(): HyperDHT | null {
    return this.hyperswarm?.dht ?? null;
  }

  /**
   * Replaces the allowlist (null: any node that knows the cluster secret), e.g. when the cluster's
   * signed membership changes: peers no longer on it are disconnected at once, and keys newly on
   * it may connect again (hyperswarm had banned them when it refused them).
   */
  setAllowlist(keys: readonly string[] | null): void {
    if (keys) checkAllowlist(keys);
    const before = this.allowlist;
    this.allowlist = keys ? new Set(keys) : null;
    for (const key of this.refusedKeys) if (this.allows(key)) this.refusedKeys.delete(key);
    for (const peer of this.peerSet) if (!this.allows(peer.publicKey)) peer.stream.destroy();
    for (const [key, info] of this.hyperswarm?.peers ?? []) {
      if (info.banned && this.allows(key) && before && !before.has(key)) info.ban(false);
    }
  }

  private allows(key: string): boolean {
    return !this.allowlist || this.allowlist.has(key);
  }

  private refuse(remoteKey: Buffer): boolean {
    const key = remoteKey.toString('hex');
    if (this.allows(key)) return false;
    this.counters.rejectedAllowlist++;
    this.refusedKeys.delete(key); // to the end: the newest last
    this.refusedKeys.add(key);
    if (this.refusedKeys.size > REFUSED_KEYS_KEPT) this.refusedKeys.delete(this.refusedKeys.values().next().value!);
    this.events.emit('refused', key, null, this.opts.membershipRecord?.() ? 'not in the membership' : 'not in network.allowlist');
    return true;
  }

  private get authTimeoutMs(): number {
    return this.opts.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS;
  }

  private countAuthFailure(timeout: boolean): void {
    this.counters.authFailures++;
    this.lastAuthFailure = Date.now();
    if (timeout) this.counters.authTimeouts++;
  }

  private onConnection(conn: HyperDHT.NoiseSecretStream): void {
    let lastError: Error | undefined;
    conn.on('error', (err: Error) => { lastError = err; });
    if (this.closed) {
      conn.destroy();
      return;
    }
    this.counters.connected++;
    conn.on('close', () => { this.counters.connected--; });

    authenticate(conn, { clusterSecret: this.opts.clusterSecret, timeoutMs: this.authTimeoutMs, clock: this.clock }).then(
      async (leftover) => {
        if (this.closed || conn.destroyed) return void conn.destroy();
        // The allowlist may also have changed while the peer authenticated.
        if (this.refuse(conn.remotePublicKey)) return this.turnAway(conn);
        const raw = conn.rawStream;
        const remoteHost = raw?.remoteHost ?? null;
        let path: AgreedPath;
        try {
          path = await this.paths.agree(conn, leftover, remoteHost);
        } catch (err) {
          if (err instanceof RefusedByPeer) this.events.emit('turned-away', conn.remotePublicKey.toString('hex'), err.record);
          // Otherwise the peer broke off or broke the protocol before any application byte: nothing to report.
          return void conn.destroy();
        }
        const { direct } = path;
        // Either connection may have died meanwhile; a stream handed out closed would never say so.
        if (this.closed || conn.destroyed || direct?.conn.destroyed) {
          direct?.conn.destroy();
          return void conn.destroy();
        }
        const pacer = this.limiter.forPeer();
        const stream = direct ? this.paths.stream(direct, conn, pacer) : new PeerStream(conn, { prefix: path.rest, pacer, clock: this.clock });
        const peer: Peer = {
          stream,
          publicKey: conn.remotePublicKey.toString('hex'),
          remoteAddress: remoteHost ? `${remoteHost}:${raw?.remotePort ?? 0}` : 'unknown',
          initiator: conn.isInitiator,
          path: direct ? 'tcp' : 'hyperswarm',
        };
        this.peerSet.add(peer);
        this.counters.authenticated++;
        if (direct) this.counters.direct++;
        stream.once('close', () => {
          this.peerSet.delete(peer);
          this.counters.authenticated--;
          if (direct) this.counters.direct--;
          this.events.emit('peer-closed', peer, (stream as PeerStream).closeReason ?? lastError);
        });
        this.events.emit('peer', peer);
      },
      (err: unknown) => {
        if (isChunkswarmError(err, 'E_AUTH') || isChunkswarmError(err, 'E_TIMEOUT')) {
          this.countAuthFailure(isChunkswarmError(err, 'E_TIMEOUT'));
          const host = conn.rawStream?.remoteHost;
          this.events.emit('refused', conn.remotePublicKey.toString('hex'), host ? `${host}:${conn.rawStream?.remotePort ?? 0}` : null,
            isChunkswarmError(err, 'E_TIMEOUT') ? 'sent no proof of the cluster secret' : 'wrong cluster secret');
        }
        conn.destroy();
      },
    );
  }

  /** Sends an authenticated peer off the allowlist the membership record that leaves it out, then ends the connection. */
  private turnAway(conn: HyperDHT.NoiseSecretStream): void {
    const record = this.opts.membershipRecord?.() ?? null;
    if (record === null) return void conn.destroy();
    // Told once: from now on hyperswarm refuses it at the handshake and stops dialing it, as the
    // firewall does for a node with nothing to show (setAllowlist lifts the ban if it is admitted).
    this.hyperswarm?.peers.get(conn.remotePublicKey.toString('hex'))?.ban(true);
    conn.write(encodeRefusal(record));
    conn.end();
    const cutOff = this.clock.setTimeout(() => conn.destroy(), TURN_AWAY_MS);
    conn.once('close', () => cutOff.cancel());
  }

  private scheduleRefresh(delay = REFRESH_ALONE_MS): void {
    if (this.closed) return;
    this.refreshTimer = this.clock.setTimeout(() => {
      // hyperswarm keeps one entry per node a lookup turned up, connected or not.
      const known = this.hyperswarm?.peers.size ?? 0;
      void this.refresh().then(() => {
        const foundNew = (this.hyperswarm?.peers.size ?? 0) > known;
        this.scheduleRefresh(this.refreshSchedule.next({ foundNew, peers: this.peerSet.size }));
      });
    }, delay);
  }
}

function checkAllowlist(keys: readonly string[]): void {
  for (const key of keys) {
    if (!isHex64(key)) throw ChunkswarmError.config('allowlist', `${JSON.stringify(key)} is not a 64-character lowercase hex public key`);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\./.test(host);
}
