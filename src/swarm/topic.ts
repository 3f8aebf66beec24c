import { createHash } from 'node:crypto';
import { ChunkswarmError } from '../core/index.js';

export const CLUSTER_SECRET_BYTES = 32;

/** Throws E_CONFIG unless the cluster secret is exactly 32 bytes. */
export function checkClusterSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.byteLength !== CLUSTER_SECRET_BYTES) {
    throw ChunkswarmError.config('clusterSecret', `must be ${CLUSTER_SECRET_BYTES} bytes (64 hex characters)`);
  }
}

/**
 * The DHT topic of a cluster. Topics are public (every DHT node on the path sees them), so it is a
 * one-way function of the secret, never the secret itself.
 */
export function deriveTopic(clusterSecret: Uint8Array): Buffer {
  checkClusterSecret(clusterSecret);
  return createHash('sha256').update('chunkswarm topic').update(clusterSecret).digest();
}
