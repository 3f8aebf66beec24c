import { createHmac, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { isChunkswarmError } from '../core/index.js';
import { readSecretFile, writeSecretFile } from '../config/index.js';

export function nodeSeedPath(dataDir: string): string {
  return join(dataDir, 'node.seed');
}

/** The node's swarm identity seed (dataDir/node.seed, 0600): the same public key across restarts. */
export async function nodeSeed(dataDir: string): Promise<Uint8Array> {
  const path = nodeSeedPath(dataDir);
  try {
    return Buffer.from(await readSecretFile(path), 'hex');
  } catch (err) {
    if (!isChunkswarmError(err, 'E_KEY') || !/cannot read/.test(err.message)) throw err;
  }
  const seed = randomBytes(32);
  await writeSecretFile(path, seed.toString('hex'));
  return seed;
}

export interface KeyPair {
  publicKey: Buffer;
  /** libsodium's form: the seed, then the public key. */
  secretKey: Buffer;
}

/** PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The swarm key pair of a node seed: the Noise static key of every connection of the node. The
 * same as hyperdht's keyPair(seed) (libsodium's crypto_sign_seed_keypair), computed without
 * loading the networking stack, so that `init` and `token create` stay quick.
 */
export function nodeKeyPair(seed: Uint8Array): KeyPair {
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const x = createPublicKey(key).export({ format: 'jwk' }).x!;
  const publicKey = Buffer.from(x, 'base64url');
  return { publicKey, secretKey: Buffer.concat([Buffer.from(seed), publicKey]) };
}

/**
 * The key pair of the publisher's join service, derived from its node seed: stable across
 * restarts (tokens stay valid) and distinct from the swarm key (so that a joiner, who does not
 * know the cluster secret yet, never meets the swarm's authentication).
 */
export function joinKeyPair(seed: Uint8Array): KeyPair {
  return nodeKeyPair(createHmac('sha256', seed).update('chunkswarm join service v1').digest());
}
