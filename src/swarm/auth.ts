import { createHmac, timingSafeEqual } from 'node:crypto';
import type HyperDHT from 'hyperdht';
import { ChunkswarmError, type Clock } from '../core/index.js';

type Conn = HyperDHT.NoiseSecretStream;

const LABEL = Buffer.from('chunkswarm auth v1');
const MAC_BYTES = 32;
const LENGTH_BYTES = 2;
/** The first bytes each side sends on a connection: a 2-byte big-endian length, then the MAC. */
export const AUTH_FRAME_BYTES = LENGTH_BYTES + MAC_BYTES;

/**
 * Proof that the sender knows the cluster secret, bound to this Noise session (handshake hash) and
 * to the sender's key, so it can be neither replayed on another connection nor reflected back.
 */
export function authMac(clusterSecret: Uint8Array, handshakeHash: Uint8Array, publicKey: Uint8Array): Buffer {
  return createHmac('sha256', clusterSecret).update(LABEL).update(handshakeHash).update(publicKey).digest();
}

export function encodeAuthFrame(mac: Uint8Array): Buffer {
  const frame = Buffer.alloc(AUTH_FRAME_BYTES);
  frame.writeUInt16BE(MAC_BYTES, 0);
  frame.set(mac, LENGTH_BYTES);
  return frame;
}

export interface AuthOptions {
  clusterSecret: Uint8Array;
  timeoutMs: number;
  clock: Clock;
  /**
   * Send our frame only once the peer's has verified. The side that accepts connections from
   * anyone (a TCP listener) then gives a caller without the secret not a single byte.
   */
  proofFirstFromPeer?: boolean;
}

/**
 * Runs the cluster-secret handshake on a fresh connection: sends our frame, waits for the peer's
 * (or, with `proofFirstFromPeer`, the other way round). Resolves with the application bytes that
 * arrived right behind the peer's frame (the stream is left paused so none is lost); rejects with
 * E_AUTH (wrong or malformed proof), E_TIMEOUT (silence) or E_CLOSED (the connection ended first).
 * The caller destroys the connection on rejection.
 */
export function authenticate(conn: Conn, opts: AuthOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    let done = false;

    const finish = (err: ChunkswarmError | null, leftover?: Buffer): void => {
      if (done) return;
      done = true;
      timer.cancel();
      conn.off('data', onData);
      conn.off('close', onClose);
      if (err) reject(err);
      else {
        conn.pause();
        resolve(leftover ?? Buffer.alloc(0));
      }
    };

    const onData = (chunk: Buffer): void => {
      received = received.byteLength === 0 ? chunk : Buffer.concat([received, chunk]);
      if (received.byteLength >= LENGTH_BYTES && received.readUInt16BE(0) !== MAC_BYTES) {
        finish(new ChunkswarmError('E_AUTH', 'peer sent a malformed authentication frame'));
        return;
      }
      if (received.byteLength < AUTH_FRAME_BYTES) return;
      const theirs = received.subarray(LENGTH_BYTES, AUTH_FRAME_BYTES);
      const hash = conn.handshakeHash;
      const expected = hash ? authMac(opts.clusterSecret, hash, conn.remotePublicKey) : null;
      if (!expected || !timingSafeEqual(theirs, expected)) {
        finish(new ChunkswarmError('E_AUTH', 'peer does not know the cluster secret (authentication MAC mismatch)'));
        return;
      }
      if (opts.proofFirstFromPeer) sendOurs(conn.handshakeHash!);
      finish(null, received.subarray(AUTH_FRAME_BYTES));
    };
    const sendOurs = (hash: Buffer): void => {
      conn.write(encodeAuthFrame(authMac(opts.clusterSecret, hash, conn.publicKey)));
    };

    const onClose = (): void => finish(new ChunkswarmError('E_CLOSED', 'connection closed before authentication'));

    const timer = opts.clock.setTimeout(
      () => finish(new ChunkswarmError('E_TIMEOUT', `peer sent no authentication within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    conn.on('close', onClose);

    conn.opened.then((opened) => {
      if (done) return;
      const hash = conn.handshakeHash;
      if (!opened || !hash) {
        onClose();
        return;
      }
      conn.on('data', onData);
      if (!opts.proofFirstFromPeer) sendOurs(hash);
    }, onClose);
  });
}
