import net from 'node:net';
import type NoiseSecretStream from '@hyperswarm/secret-stream';
import type HyperDHT from 'hyperdht';
import { ChunkswarmError, isChunkswarmError, type Clock } from '../core/index.js';
import { authenticate } from './auth.js';
import { readPrefix } from './read-prefix.js';
import { TcpSecretStream } from './tcp-secret-stream.js';

/**
 * The direct path: a TCP connection between two nodes that already met over hyperswarm, carrying
 * the same Noise handshake with the same node keys (@hyperswarm/secret-stream) and the same
 * cluster-secret proof bound to its own handshake hash. The dialer proves itself first and then
 * sends the token the listener handed out over their hyperswarm connection, which ties the TCP
 * connection to that one hyperswarm connection.
 */
export const DIRECT_TOKEN_BYTES = 16;
/** TCP connections still in their handshakes at once; beyond it new ones are dropped at accept. */
const MAX_PENDING = 64;

export interface DirectOptions {
  keyPair: HyperDHT.KeyPair;
  clusterSecret: Uint8Array;
  /** For the Noise handshake, the proof and the token together. */
  timeoutMs: number;
  clock: Clock;
}

/** An authenticated direct connection. `leftover`: application bytes already read behind the handshakes. */
export interface DirectConnection {
  conn: NoiseSecretStream;
  remoteKey: string;
  leftover: Buffer;
}

export interface DirectListenerEvents {
  /** A member proved itself and sent a token; the listener's owner matches it or destroys `conn`. */
  connection(c: DirectConnection, token: string): void;
  /** A connection dropped for a wrong, malformed or missing proof (timeout: silence). */
  refused(timeout: boolean): void;
}

/** Accepts direct connections on `network.host`:`network.port`. */
export class DirectListener {
  private readonly sockets = new Set<net.Socket>();
  private pending = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly o: DirectOptions,
    private readonly on: DirectListenerEvents,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** E_IO (with the address) if the port cannot be bound. */
  static async listen(host: string, port: number, o: DirectOptions, on: DirectListenerEvents): Promise<DirectListener> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(ChunkswarmError.fromSystem(err, `listening for peers on TCP ${host}:${port} (network.port)`)));
      server.listen({ host, port, exclusive: true }, resolve);
    });
    return new DirectListener(server, o, on);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    if (this.pending >= MAX_PENDING) {
      socket.destroy();
      return;
    }
    this.pending++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    const conn = new TcpSecretStream(false, socket, { keyPair: this.o.keyPair });
    conn.on('error', () => undefined);
    const { clusterSecret, timeoutMs, clock } = this.o;
    authenticate(conn, { clusterSecret, timeoutMs, clock, proofFirstFromPeer: true })
      .then((leftover) => readPrefix(conn, leftover, () => DIRECT_TOKEN_BYTES, { timeoutMs, clock, what: 'direct-path token' }))
      .then(
        ({ message, rest }) => {
          this.pending--;
          this.on.connection({ conn, remoteKey: conn.remotePublicKey.toString('hex'), leftover: rest }, message.toString('hex'));
        },
        (err: unknown) => {
          this.pending--;
          if (isChunkswarmError(err, 'E_AUTH')) this.on.refused(false);
          else if (isChunkswarmError(err, 'E_TIMEOUT')) this.on.refused(true);
          conn.destroy();
        },
      );
  }
}

/**
 * Dials a node's direct path and proves ourselves; the Noise handshake checks that the listener
 * holds `remoteKey`. Rejects (E_IO, E_AUTH, E_TIMEOUT, E_CLOSED) if it cannot be used; the caller
 * then falls back to hyperswarm.
 */
export async function dialDirect(
  to: { host: string; port: number },
  remoteKey: Buffer,
  token: Buffer,
  o: DirectOptions & { localHost: string | null },
): Promise<DirectConnection> {
  const socket = net.connect({ host: to.host, port: to.port, ...(o.localHost && { localAddress: o.localHost }) });
  socket.setNoDelay(true);
  const conn = new TcpSecretStream(true, socket, { keyPair: o.keyPair, remotePublicKey: remoteKey });
  let failure: Error | undefined;
  conn.on('error', (err: Error) => { failure ??= err; });
  try {
    const leftover = await authenticate(conn, { clusterSecret: o.clusterSecret, timeoutMs: o.timeoutMs, clock: o.clock });
    if (!conn.remotePublicKey.equals(remoteKey)) throw new ChunkswarmError('E_AUTH', 'direct path answered with another node key');
    conn.write(token);
    return { conn, remoteKey: remoteKey.toString('hex'), leftover };
  } catch (err) {
    conn.destroy();
    if (isChunkswarmError(err, 'E_CLOSED') && failure) {
      throw ChunkswarmError.fromSystem(failure, `connecting to the direct path ${to.host}:${to.port}`);
    }
    throw err;
  }
}
