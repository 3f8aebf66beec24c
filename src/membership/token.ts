import { createHash } from 'node:crypto';
import { ChunkswarmError } from '../core/index.js';
import { shuffled } from '../scheduler/random.js';

/**
 * A join token: what a new node needs to find the cluster and ask the publisher to let it in.
 * It does NOT hold the cluster secret: only a one-time invitation secret that the publisher's join
 * service exchanges, once, for the cluster secret (see redeem.ts and the README).
 */
export interface JoinToken {
  /** The cluster's publisher key (raw Ed25519, 32 bytes): the node will trust releases it signed. */
  publisherKey: Uint8Array;
  /** The public key of the publisher's join service on the DHT (32 bytes). */
  joinKey: Uint8Array;
  /** The invitation secret (16 bytes); the publisher keeps only its SHA-256. */
  secret: Uint8Array;
  /** Unix seconds; the publisher's own record is what counts. */
  expires: number;
  /** DHT bootstrap nodes, "host:port". */
  bootstrap: string[];
}

export const TOKEN_PREFIX = 'csjoin1.';
export const INVITATION_SECRET_BYTES = 16;
const KEY_BYTES = 32;
const CHECK_BYTES = 4;
const MAX_BOOTSTRAP = 16;
const MAX_ADDRESS_BYTES = 255;
const HOST_PORT = /^[^:\s]+:\d{1,5}$/;

function checksum(bytes: Uint8Array): Buffer {
  return createHash('sha256').update('chunkswarm join token').update(bytes).digest().subarray(0, CHECK_BYTES);
}

/**
 * The bootstrap nodes a token made from the configuration carries: all of them, or where the
 * cluster lists more than a token holds (a cluster whose every frontend is a bootstrap node), a
 * random draw of as many as it holds, in the configuration's order; then, in the room left, the
 * frontends' bootstrap nodes the master remembers (BootstrapMemory), which the new node's config
 * keeps too. A new node needs one that answers; drawing anew for each token spreads the joiners
 * over the list.
 */
export function tokenBootstrap(configured: readonly string[], random: () => number = Math.random, remembered: readonly string[] = []): string[] {
  const picked = configured.length <= MAX_BOOTSTRAP
    ? [...configured]
    : shuffled(configured.map((_, i) => i), random).slice(0, MAX_BOOTSTRAP).sort((a, b) => a - b).map((i) => configured[i]!);
  for (const a of remembered) if (picked.length < MAX_BOOTSTRAP && !picked.includes(a)) picked.push(a);
  return picked;
}

export function encodeToken(t: JoinToken): string {
  if (t.publisherKey.length !== KEY_BYTES || t.joinKey.length !== KEY_BYTES) throw ChunkswarmError.usage('token keys must be 32 bytes');
  if (t.secret.length !== INVITATION_SECRET_BYTES) throw ChunkswarmError.usage(`the invitation secret must be ${INVITATION_SECRET_BYTES} bytes`);
  if (t.bootstrap.length === 0 || t.bootstrap.length > MAX_BOOTSTRAP) throw ChunkswarmError.usage(`a token carries 1 to ${MAX_BOOTSTRAP} bootstrap nodes`);
  const addresses = t.bootstrap.map((a) => {
    if (!HOST_PORT.test(a)) throw ChunkswarmError.usage(`bootstrap node ${JSON.stringify(a)} is not host:port`);
    return Buffer.from(a, 'utf8');
  });
  const fixed = Buffer.alloc(4 + 1);
  fixed.writeUInt32BE(t.expires, 0);
  fixed.writeUInt8(addresses.length, 4);
  const parts: Buffer[] = [Buffer.from(t.publisherKey), Buffer.from(t.joinKey), Buffer.from(t.secret), fixed];
  for (const a of addresses) {
    if (a.length > MAX_ADDRESS_BYTES) throw ChunkswarmError.usage(`bootstrap node ${a.toString()} is too long`);
    parts.push(Buffer.from([a.length]), a);
  }
  const body = Buffer.concat(parts);
  return TOKEN_PREFIX + Buffer.concat([body, checksum(body)]).toString('base64url');
}

/**
 * E_TOKEN naming what is wrong: not a token, truncated, or altered (a checksum catches a line
 * cut short or mistyped when pasted). A well-formed token may still be forged or unknown: only
 * the publisher can tell.
 */
export function decodeToken(text: string): JoinToken {
  const s = text.trim();
  if (!s.startsWith(TOKEN_PREFIX)) {
    throw new ChunkswarmError('E_TOKEN', `not a chunkswarm join token: it must start with "${TOKEN_PREFIX}" (copy the whole line "chunkswarm token create" printed)`);
  }
  const b64 = s.slice(TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(b64)) throw new ChunkswarmError('E_TOKEN', 'the join token holds characters that cannot be part of it: it was altered when copied');
  const all = Buffer.from(b64, 'base64url');
  const truncated = () => new ChunkswarmError('E_TOKEN', 'the join token is truncated: copy the whole line "chunkswarm token create" printed');
  const fixedEnd = 2 * KEY_BYTES + INVITATION_SECRET_BYTES + 5;
  if (all.length < fixedEnd + CHECK_BYTES) throw truncated();
  const body = all.subarray(0, all.length - CHECK_BYTES);
  if (!checksum(body).equals(all.subarray(all.length - CHECK_BYTES))) {
    throw new ChunkswarmError('E_TOKEN', 'the join token fails its checksum: it is truncated or was altered; copy the whole line "chunkswarm token create" printed');
  }
  let at = 0;
  const take = (n: number): Buffer => {
    if (at + n > body.length) throw truncated();
    const out = body.subarray(at, at + n);
    at += n;
    return out;
  };
  const publisherKey = new Uint8Array(take(KEY_BYTES));
  const joinKey = new Uint8Array(take(KEY_BYTES));
  const secret = new Uint8Array(take(INVITATION_SECRET_BYTES));
  const expires = take(4).readUInt32BE(0);
  const count = take(1).readUInt8(0);
  if (count === 0 || count > MAX_BOOTSTRAP) throw new ChunkswarmError('E_TOKEN', `the join token lists ${count} bootstrap nodes (1 to ${MAX_BOOTSTRAP} expected)`);
  const bootstrap: string[] = [];
  for (let i = 0; i < count; i++) {
    const a = take(take(1).readUInt8(0)).toString('utf8');
    if (!HOST_PORT.test(a)) throw new ChunkswarmError('E_TOKEN', `the join token's bootstrap node ${JSON.stringify(a)} is not host:port`);
    bootstrap.push(a);
  }
  if (at !== body.length) throw new ChunkswarmError('E_TOKEN', 'the join token has bytes after its last field');
  return { publisherKey, joinKey, secret, expires, bootstrap };
}
