import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  clusterIdOf,
  decodeSignedRelease,
  encodeSignedRelease,
  generatePublisherKeys,
  signRelease,
  verifyRelease,
  type ReleaseBody,
} from '../../src/manifest/index.js';
import { asObjectHash, asReleaseId } from '../../src/core/index.js';
import { codeOf } from '../support/error-code.js';

const publisher = generatePublisherKeys();
const stranger = generatePublisherKeys();

const body: ReleaseBody = {
  kind: 'release',
  cluster: clusterIdOf(publisher.publicKey),
  version: 3,
  root: asObjectHash('ab'.repeat(32)),
  parent: null,
  created: 1_700_000_000_000,
  note: 'nightly',
};


describe('release signing', () => {
  it('makes raw 32-byte keys and names the cluster by the key hash', () => {
    expect(publisher.publicKey).toHaveLength(32);
    expect(publisher.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(clusterIdOf(publisher.publicKey)).toBe(createHash('sha256').update(publisher.publicKey).digest('hex'));
    expect(clusterIdOf(stranger.publicKey)).not.toBe(clusterIdOf(publisher.publicKey));
  });

  it('verifies a signed release, also after an encode/decode trip', () => {
    const signed = signRelease(body, publisher.privateKeyPem, publisher.publicKey);
    expect(signed.signature).toHaveLength(64);
    expect(signed.publicKey).toEqual(publisher.publicKey);
    expect(codeOf(() => verifyRelease(signed, publisher.publicKey))).toBe('none');
    expect(codeOf(() => verifyRelease(decodeSignedRelease(encodeSignedRelease(signed)), publisher.publicKey))).toBe('none');
    // The public key is derived from the private key when not given.
    expect(signRelease(body, publisher.privateKeyPem).publicKey).toEqual(publisher.publicKey);
  });

  it('rejects a tampered body or signature with E_BAD_SIGNATURE', () => {
    const signed = signRelease(body, publisher.privateKeyPem);
    for (const tampered of [{ ...body, note: 'nightly!' }, { ...body, version: 4 }, { ...body, parent: asReleaseId(signed.body.root) }]) {
      expect(codeOf(() => verifyRelease({ ...signed, body: tampered }, publisher.publicKey))).toBe('E_BAD_SIGNATURE');
    }
    const sig = new Uint8Array(signed.signature);
    sig[10]! ^= 1;
    expect(codeOf(() => verifyRelease({ ...signed, signature: sig }, publisher.publicKey))).toBe('E_BAD_SIGNATURE');
    expect(codeOf(() => verifyRelease({ ...signed, signature: sig.subarray(0, 63) }, publisher.publicKey))).toBe('E_BAD_SIGNATURE');
  });

  it('rejects releases of another publisher with E_WRONG_CLUSTER', () => {
    const foreign = signRelease({ ...body, cluster: clusterIdOf(stranger.publicKey) }, stranger.privateKeyPem);
    expect(codeOf(() => verifyRelease(foreign, stranger.publicKey))).toBe('none');
    expect(codeOf(() => verifyRelease(foreign, publisher.publicKey))).toBe('E_WRONG_CLUSTER');
    // Our cluster id in the body does not help a release signed by another key.
    const forged = signRelease(body, publisher.privateKeyPem);
    expect(codeOf(() => verifyRelease({ ...forged, publicKey: stranger.publicKey }, publisher.publicKey))).toBe('E_WRONG_CLUSTER');
    expect(codeOf(() => verifyRelease({ ...forged, body: { ...body, cluster: 'cd'.repeat(32) } }, publisher.publicKey))).toBe(
      'E_WRONG_CLUSTER',
    );
  });

  it('refuses to sign with a mismatched or unusable key', () => {
    expect(codeOf(() => signRelease(body, stranger.privateKeyPem))).toBe('E_WRONG_CLUSTER');
    expect(codeOf(() => signRelease(body, publisher.privateKeyPem, stranger.publicKey))).toBe('E_KEY');
    expect(codeOf(() => signRelease(body, 'not a key'))).toBe('E_KEY');
    expect(codeOf(() => verifyRelease(signRelease(body, publisher.privateKeyPem), new Uint8Array(5)))).toBe('E_KEY');
  });
});
