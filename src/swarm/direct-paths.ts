import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type HyperDHT from 'hyperdht';
import type { Clock } from '../core/index.js';
import { dialDirect, DirectListener, DIRECT_TOKEN_BYTES, type DirectConnection } from './direct.js';
import { checkFallback, decodeOffer, encodeOffer, FALLBACK, offerLength, throwIfRefused } from './path-offer.js';
import { PeerStream } from './peer-stream.js';
import type { Pacer } from './rate-limit.js';
import { readPrefix } from './read-prefix.js';

/** A direct path not connected and authenticated within this is given up for hyperswarm. */
const DIRECT_DIAL_MS = 3000;

export interface DirectPathsOptions {
  keyPair: HyperDHT.KeyPair;
  clusterSecret: Uint8Array;
  clock: Clock;
  /** The address this node's sockets bind to. */
  host: string;
  authTimeoutMs: number;
  /** Whether a node key may have a path now (the allowlist can change while it dials). */
  allows(remoteKey: string): boolean;
  closed(): boolean;
  /** A connection to our listener failed its proof of the cluster secret (`timeout`: it stayed silent). */
  refused(timeout: boolean): void;
}

/** A peer's path once both ends agreed: a direct connection, or null and the hyperswarm bytes already read behind the agreement. */
export interface AgreedPath {
  direct: DirectConnection | null;
  rest: Buffer;
}

/**
 * One node's side of the direct TCP path: its listener, and the agreement with each peer right
 * after authentication over hyperswarm. The responder offers its port and a one-time token; the
 * initiator dials it and sends the token, or answers FALLBACK (no path, or no answer within
 * DIRECT_DIAL_MS) and the peer stays on hyperswarm.
 */
export class DirectPaths {
  /** Offers made over hyperswarm, by token, waiting for the peer's direct connection. */
  private readonly offers = new Map<string, { remoteKey: string; take(c: DirectConnection): void }>();
  private listener: DirectListener | null = null;

  constructor(private readonly o: DirectPathsOptions) {}

  /** Listens on `port` of the host (0: any free one); without it this node still takes others' offers. */
  async listen(port: number): Promise<void> {
    const { keyPair, clock, clusterSecret, authTimeoutMs } = this.o;
    this.listener = await DirectListener.listen(this.o.host, port, { keyPair, clock, clusterSecret, timeoutMs: authTimeoutMs }, {
      connection: (c, token) => this.onDirect(c, token),
      refused: (timeout) => this.o.refused(timeout),
    });
  }

  /** The bound port of the listener, or null if this node has none. */
  get port(): number | null {
    return this.listener?.port ?? null;
  }

  /**
   * Right after `conn` authenticated: the path both ends agree on. Rejects if the peer breaks off or
   * breaks the protocol, and with RefusedByPeer if it turns this node away.
   */
  agree(conn: HyperDHT.NoiseSecretStream, leftover: Buffer, remoteHost: string | null): Promise<AgreedPath> {
    return conn.isInitiator ? this.takeOffer(conn, leftover, remoteHost) : this.makeOffer(conn, leftover);
  }

  /**
   * The stream of a peer on the direct path: TCP carries its own flow control, so the Noise
   * stream is used as it is unless rate limits apply. Both connections live and die together.
   */
  stream(direct: DirectConnection, hs: HyperDHT.NoiseSecretStream, pacer: Pacer | null): Duplex {
    const { conn, leftover } = direct;
    hs.once('close', () => conn.destroy());
    conn.once('close', () => hs.destroy());
    if (pacer) return new PeerStream(conn, { prefix: leftover, pacer, clock: this.o.clock, framed: false });
    if (leftover.byteLength > 0) conn.unshift(leftover);
    return conn as unknown as Duplex;
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }

  /** Responder side: offers our direct path (if any) and waits for the initiator to take it over TCP or to answer FALLBACK. */
  private async makeOffer(conn: HyperDHT.NoiseSecretStream, leftover: Buffer): Promise<AgreedPath> {
    const token = randomBytes(DIRECT_TOKEN_BYTES);
    const port = this.port ?? 0;
    conn.write(encodeOffer({ port, token, host: advertisable(this.o.host) }));
    if (port === 0) return { direct: null, rest: leftover };
    const key = token.toString('hex');
    const stop = new AbortController();
    try {
      const direct = new Promise<DirectConnection>((take) => this.offers.set(key, { remoteKey: conn.remotePublicKey.toString('hex'), take }))
        .then((c) => ({ direct: c, rest: Buffer.alloc(0) }));
      // The initiator answers within its dial timeout; a little more for the answer to travel.
      const fallback = readPrefix(conn, leftover, checkFallback, {
        timeoutMs: DIRECT_DIAL_MS + this.o.authTimeoutMs, clock: this.o.clock, what: 'answer to our direct-path offer', signal: stop.signal,
      }).then(({ message, rest }) => {
        throwIfRefused(message);
        return { direct: null, rest };
      });
      return await Promise.race([direct, fallback]);
    } finally {
      this.offers.delete(key);
      stop.abort();
    }
  }

  /** Initiator side: takes the responder's offer if its direct path answers, else says FALLBACK. */
  private async takeOffer(conn: HyperDHT.NoiseSecretStream, leftover: Buffer, remoteHost: string | null): Promise<AgreedPath> {
    const { clock, authTimeoutMs } = this.o;
    const { message, rest } = await readPrefix(conn, leftover, offerLength, { timeoutMs: authTimeoutMs, clock, what: 'direct-path offer' });
    throwIfRefused(message);
    const offer = decodeOffer(message);
    const host = offer.host || remoteHost;
    if (offer.port === 0) return { direct: null, rest };
    if (host) {
      const { keyPair, clusterSecret } = this.o;
      const direct = await dialDirect({ host, port: offer.port }, conn.remotePublicKey, offer.token, {
        keyPair, clock, clusterSecret, timeoutMs: DIRECT_DIAL_MS, localHost: advertisable(this.o.host) || null,
      }).catch(() => null);
      if (direct) return { direct, rest };
    }
    conn.write(FALLBACK);
    return { direct: null, rest };
  }

  /** A direct connection arrived on our listener: it belongs to the offer its token names, if any. */
  private onDirect(c: DirectConnection, token: string): void {
    const offer = this.offers.get(token);
    if (!offer || offer.remoteKey !== c.remoteKey || !this.o.allows(c.remoteKey) || this.o.closed()) return void c.conn.destroy();
    this.offers.delete(token);
    offer.take(c);
  }
}

/** The host to put in an offer: "" (the address the peer reaches us from) for a wildcard bind. */
function advertisable(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '' : host;
}
