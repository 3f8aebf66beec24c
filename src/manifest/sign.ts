import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { ChunkswarmError } from '../core/index.js';
import { encodeReleaseBody, hashBytes } from './encoding.js';
import type { ReleaseBody, SignedRelease } from './types.js';

/** Ed25519 release signing. Keys travel as raw 32-byte public keys and PKCS#8 PEM private keys. */

const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

export function generatePublisherKeys(): { publicKey: Uint8Array; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: rawPublicKey(publicKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export function clusterIdOf(publicKey: Uint8Array): string {
  return hashBytes(publicKey);
}

/** Signs body; publicKey, when given, must be the private key's own (a cheap guard against mixed-up key files). */
export function signRelease(body: ReleaseBody, privateKeyPem: string, publicKey?: Uint8Array): SignedRelease {
  const { key, own } = publisherPrivateKey(privateKeyPem, publicKey);
  const cluster = clusterIdOf(own);
  if (body.cluster !== cluster) throw ChunkswarmError.wrongCluster(cluster, body.cluster);
  const signature = new Uint8Array(sign(null, encodeReleaseBody(body), key));
  return { body, publicKey: own, signature };
}

/**
 * Ed25519 over `bytes` with the publisher key, for the other records it signs (the membership).
 * Each record type puts its own label in `bytes`, so that no signature can pass for another's.
 */
export function signDetached(bytes: Uint8Array, privateKeyPem: string, publicKey?: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, bytes, publisherPrivateKey(privateKeyPem, publicKey).key));
}

/** True if `signature` is the trusted publisher key's over `bytes`. */
export function verifyDetached(bytes: Uint8Array, signature: Uint8Array, trustedPublicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false;
  return verify(null, bytes, publicKeyObject(trustedPublicKey), signature);
}

function publisherPrivateKey(privateKeyPem: string, publicKey?: Uint8Array): { key: KeyObject; own: Uint8Array } {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: privateKeyPem, format: 'pem' });
  } catch (err) {
    throw new ChunkswarmError('E_KEY', 'the publisher private key is not a readable PEM key', { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ChunkswarmError('E_KEY', `the publisher private key is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  }
  const own = rawPublicKey(createPublicKey(key));
  if (publicKey !== undefined && !Buffer.from(own).equals(publicKey)) {
    throw new ChunkswarmError('E_KEY', 'the publisher public key does not belong to the private key');
  }
  return { key, own };
}

/** Throws unless signed was made by the trusted publisher key for that key's cluster. */
export function verifyRelease(signed: SignedRelease, trustedPublicKey: Uint8Array): void {
  const trusted = publicKeyObject(trustedPublicKey);
  const cluster = clusterIdOf(trustedPublicKey);
  if (!(signed.publicKey instanceof Uint8Array)) throw ChunkswarmError.wrongCluster(cluster, 'unknown (no publisher key)');
  if (!Buffer.from(trustedPublicKey).equals(signed.publicKey)) {
    throw ChunkswarmError.wrongCluster(cluster, clusterIdOf(signed.publicKey));
  }
  if (signed.body.cluster !== cluster) throw ChunkswarmError.wrongCluster(cluster, String(signed.body.cluster));
  const what = `release version ${signed.body.version}`;
  if (!(signed.signature instanceof Uint8Array) || signed.signature.length !== SIGNATURE_BYTES) {
    throw ChunkswarmError.badSignature(what);
  }
  if (!verify(null, encodeReleaseBody(signed.body), trusted, signed.signature)) throw ChunkswarmError.badSignature(what);
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const x = key.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new ChunkswarmError('E_KEY', 'cannot export the Ed25519 public key');
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  if (!(raw instanceof Uint8Array) || raw.length !== PUBLIC_KEY_BYTES) {
    throw new ChunkswarmError('E_KEY', `the trusted publisher key must be ${PUBLIC_KEY_BYTES} raw bytes`);
  }
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
  } catch (err) {
    throw new ChunkswarmError('E_KEY', 'the trusted publisher key is not a valid Ed25519 key', { cause: err });
  }
}
