import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { ChunkswarmError, isHex64 } from '../core/index.js';
import type { FleetReport } from './report.js';

/** A signed report as it travels: the exact JSON text that was signed, and the signature. */
export interface SignedReport {
  r: string;
  s: string;
}

/** Largest signed report taken from a peer: a report is well under 2 KiB. */
export const MAX_SIGNED_REPORT_CHARS = 8192;

/** PKCS#8 DER prefix of a raw 32-byte Ed25519 seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Signs fleet reports with the node's swarm identity: hyperswarm derives its Ed25519 key pair from
 * the same 32-byte seed (crypto_sign_seed_keypair), so the public key a peer authenticated is the
 * key that checks the report.
 */
export class ReportSigner {
  readonly publicKey: string;
  private readonly key: KeyObject;

  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new ChunkswarmError('E_KEY', `a node seed is 32 bytes, got ${seed.length}`);
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const x = createPublicKey(this.key).export({ format: 'jwk' }).x!;
    this.publicKey = Buffer.from(x, 'base64url').toString('hex');
  }

  sign(report: FleetReport): SignedReport {
    if (report.node !== this.publicKey) throw ChunkswarmError.usage('a fleet report must name the key that signs it');
    const r = JSON.stringify(report);
    return { r, s: sign(null, Buffer.from(r), this.key).toString('hex') };
  }
}

/**
 * A report as read from its envelope, its shape checked, its signature not yet: trust nothing in
 * it before checkSignature (E_PROTOCOL for a malformed envelope, E_BAD_SIGNATURE for one its node
 * did not sign).
 */
export interface UncheckedReport {
  report: FleetReport;
  r: string;
  s: string;
}

/** The envelope's report, checked for shape only (E_PROTOCOL), so that a stale copy can be dropped unverified. */
export function readReport(item: unknown): UncheckedReport {
  if (typeof item !== 'object' || item === null) throw malformed('not an object');
  const { r, s } = item as Partial<SignedReport>;
  if (typeof r !== 'string' || typeof s !== 'string') throw malformed('fields r and s must be strings');
  if (r.length > MAX_SIGNED_REPORT_CHARS) throw malformed(`${r.length} characters, above ${MAX_SIGNED_REPORT_CHARS}`);
  if (!/^[0-9a-f]{128}$/.test(s)) throw malformed('the signature is not 64 bytes of hex');
  let report: FleetReport;
  try {
    report = JSON.parse(r) as FleetReport;
  } catch {
    throw malformed('not JSON');
  }
  if (!isReport(report)) throw malformed('missing or mistyped fields');
  return { report, r, s };
}

/** Throws E_BAD_SIGNATURE unless the node the report names signed it. */
export function checkSignature({ report, r, s }: UncheckedReport): void {
  const key = verifiedKeys.get(report.node) ?? publicKeyOf(report.node);
  if (!verify(null, Buffer.from(r), key, Buffer.from(s, 'hex'))) throw ChunkswarmError.badSignature(`fleet report of node ${report.node.slice(0, 12)}`);
  if (verifiedKeys.size >= MAX_KEPT_KEYS) verifiedKeys.clear();
  verifiedKeys.set(report.node, key);
}

/**
 * Keys that signed a report, kept: every report reaches a node once per peer that relays it, and
 * making the key object from its bytes each time cost as much as the check itself. Only keys that
 * verified are kept, so a peer sending made-up keys cannot fill it.
 */
const verifiedKeys = new Map<string, KeyObject>();
const MAX_KEPT_KEYS = 4096;

function publicKeyOf(node: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(node, 'hex').toString('base64url') }, format: 'jwk' });
}

const num = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const numOrNull = (v: unknown): boolean => v === null || num(v);

function isReport(x: FleetReport): boolean {
  const d = x?.drift as FleetReport['drift'] | undefined;
  return (
    typeof x === 'object' && x !== null && x.v === 1 && typeof x.node === 'string' && isHex64(x.node) &&
    typeof x.name === 'string' && x.name.length <= 64 && (x.address === null || typeof x.address === 'string') &&
    num(x.at) && typeof x.publisher === 'boolean' && typeof x.phase === 'string' && numOrNull(x.live) && numOrNull(x.newest) &&
    (x.progress === null || (typeof x.progress === 'object' && num(x.progress.version) && num(x.progress.bytesHave) && num(x.progress.bytesTotal))) &&
    num(x.bytesUp) && num(x.bytesDown) && num(x.bytesFromPublisher) && num(x.peers) && num(x.banned) &&
    (x.lastError === null || typeof x.lastError === 'string') && typeof x.pinned === 'boolean' && typeof x.livePath === 'string' &&
    (x.bootstrapPort === undefined || x.bootstrapPort === null || (Number.isInteger(x.bootstrapPort) && x.bootstrapPort > 0 && x.bootstrapPort < 65536)) &&
    typeof d === 'object' && d !== null && num(d.records) && Array.isArray(d.unpulled) && d.unpulled.every((i) => typeof i === 'string') &&
    typeof d.blocked === 'boolean' && (d.live === null || (typeof d.live === 'object' && num(d.live.added) && num(d.live.removed) && num(d.live.changed)))
  );
}

function malformed(why: string): ChunkswarmError {
  return new ChunkswarmError('E_PROTOCOL', `malformed fleet report: ${why}`);
}
