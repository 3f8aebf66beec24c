import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import HyperDHT from 'hyperdht';
import Hyperswarm from 'hyperswarm';
import { ChunkswarmError, isChunkswarmError, isHex64, Resource, systemClock, type Clock } from '../core/index.js';
import { authenticate } from './auth.js';
import { answeringBootstrapNodes, type BootstrapAddress } from './bootstrap.js';
import { PeerStream } from './peer-stream.js';
import { RateLimiter, type RateLimits } from './rate-limit.js';
import { checkClusterSecret, deriveTopic } from './topic.js';

export interface SwarmOptions {
  /** 32 bytes shared by every node of the cluster; proves membership and derives the topic. */
  clusterSecret: Uint8Array;
  /** Required and never defaulted: an empty list would mean the public Hyperswarm DHT. */
  bootstrap: readonly BootstrapAddress[];
  /** 32 bytes; the same seed gives the same node public key across restarts. */
  keySeed?: Uint8Array;
  /** Hex public keys allowed to connect; unset = any node that knows the cluster secret. */
  allowlist?: readonly string[];
  maxPeers?: number;
  authTimeoutMs?: number;
  /** Announce on the topic so that others can dial us (default true). */
  server?: boolean;
  /** Look up the topic and dial the peers found (default true). */
  client?: boolean;
  limits?: RateLimits;
  /** Address the DHT binds to; default 127.0.0.1 if every bootstrap node is loopback, else 0.0.0.0. */
  host?: string;
  clock?: Clock;
}

/** An authenticated peer. `stream` carries only application bytes. */
export interface Peer {
  readonly stream: Duplex;
  readonly publicKey: string;
  readonly remoteAddress: string;
  /** True if we dialed this peer. */
  readonly initiator: boolean;
}

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
}

export interface SwarmEvents {
  /** One authenticated connection. hyperswarm may briefly hold two connections to one key (it
   * then drops one), so a publicKey can show up twice; each Peer object is one connection. */
  peer: [peer: Peer];
  /** `reason`: the peer's protocol violation or the transport error, if any. */
  'peer-closed': [peer: Peer, reason: Error | undefined];
}

export const DEFAULT_AUTH_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_PEERS = 64;
// hyperswarm re-announces and re-looks-up only every ~10 minutes, so nodes that joined at the
// same moment can miss each other that long; we look again often while alone.
const REFRESH_ALONE_MS = 2000;
const REFRESH_WITH_PEERS_MS = 30_000;
const GRACEFUL_CLOSE_MS = 2000;

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
  private readonly allowlist: ReadonlySet<string> | null;
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly events = new EventEmitter();
  private readonly peerSet = new Set<Peer>();
  private readonly counters: SwarmStats = { connected: 0, authenticated: 0, authFailures: 0, authTimeouts: 0, rejectedAllowlist: 0 };
  private hyperswarm: Hyperswarm | null = null;
  private discovery: Hyperswarm.PeerDiscoverySession | null = null;
  private refreshTimer: { cancel(): void } | null = null;

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
    for (const key of opts.allowlist ?? []) {
      if (!isHex64(key)) throw ChunkswarmError.config('allowlist', `${JSON.stringify(key)} is not a 64-character lowercase hex public key`);
    }
    if (opts.server === false && opts.client === false) throw ChunkswarmError.config('swarm', 'a node must be a server, a client or both');
    this.opts = opts;
    this.keyPair = HyperDHT.keyPair(opts.keySeed);
    this.publicKey = this.keyPair.publicKey.toString('hex');
    this.topic = deriveTopic(opts.clusterSecret);
    this.allowlist = opts.allowlist ? new Set(opts.allowlist) : null;
    this.clock = opts.clock ?? systemClock;
    this.limiter = new RateLimiter(opts.limits ?? {}, this.clock);
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

  /** Announces and/or looks up the topic again now, instead of waiting for the next round. */
  async refresh(): Promise<void> {
    if (!this.discovery || this.closed) return;
    await this.discovery.refresh().catch(() => undefined);
  }

  protected async open(): Promise<void> {
    const listed = this.opts.bootstrap.map(({ host, port }) => ({ host, port }));
    const host = this.opts.host ?? (listed.every((b) => isLoopback(b.host)) ? '127.0.0.1' : '0.0.0.0');
    const bootstrap = await answeringBootstrapNodes(listed, host);
    const dht = new HyperDHT({
      bootstrap,
      host,
      // Cluster nodes are servers that can reach each other; hyperdht's firewall probing made
      // about half of the first connections between two processes fail.
      firewalled: false,
      keyPair: this.keyPair,
    });
    const hyperswarm = new Hyperswarm({
      dht,
      keyPair: this.keyPair,
      maxPeers: this.opts.maxPeers ?? DEFAULT_MAX_PEERS,
      firewall: (remoteKey) => this.refuse(remoteKey),
    });
    this.hyperswarm = hyperswarm;
    hyperswarm.on('connection', (conn) => this.onConnection(conn));
    const server = this.opts.server ?? true;
    this.discovery = hyperswarm.join(this.topic, { server, client: this.opts.client ?? true });
    // A publisher is findable once its first announce is done; lookups go on in the background.
    if (server) await this.discovery.flushed();
    this.scheduleRefresh();
  }

  protected async shutdown(): Promise<void> {
    this.refreshTimer?.cancel();
    for (const peer of this.peerSet) peer.stream.destroy();
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

  private refuse(remoteKey: Buffer): boolean {
    if (!this.allowlist || this.allowlist.has(remoteKey.toString('hex'))) return false;
    this.counters.rejectedAllowlist++;
    return true;
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

    authenticate(conn, {
      clusterSecret: this.opts.clusterSecret,
      timeoutMs: this.opts.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
      clock: this.clock,
    }).then(
      (leftover) => {
        if (this.closed || conn.destroyed) {
          conn.destroy();
          return;
        }
        const raw = conn.rawStream;
        const stream = new PeerStream(conn, { prefix: leftover, pacer: this.limiter.forPeer(), clock: this.clock });
        const peer: Peer = {
          stream,
          publicKey: conn.remotePublicKey.toString('hex'),
          remoteAddress: raw?.remoteHost ? `${raw.remoteHost}:${raw.remotePort ?? 0}` : 'unknown',
          initiator: conn.isInitiator,
        };
        this.peerSet.add(peer);
        this.counters.authenticated++;
        stream.once('close', () => {
          this.peerSet.delete(peer);
          this.counters.authenticated--;
          this.events.emit('peer-closed', peer, stream.closeReason ?? lastError);
        });
        this.events.emit('peer', peer);
      },
      (err: unknown) => {
        if (isChunkswarmError(err, 'E_AUTH') || isChunkswarmError(err, 'E_TIMEOUT')) this.counters.authFailures++;
        if (isChunkswarmError(err, 'E_TIMEOUT')) this.counters.authTimeouts++;
        conn.destroy();
      },
    );
  }

  private scheduleRefresh(): void {
    if (this.closed) return;
    const delay = this.peerSet.size > 0 ? REFRESH_WITH_PEERS_MS : REFRESH_ALONE_MS;
    this.refreshTimer = this.clock.setTimeout(() => {
      void this.refresh().then(() => this.scheduleRefresh());
    }, delay);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\./.test(host);
}

function settlesWithin(promise: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      timer.cancel();
      resolve(true);
    });
  });
}
