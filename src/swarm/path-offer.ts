import { isIPv4 } from 'node:net';
import { ChunkswarmError } from '../core/index.js';
import { DIRECT_TOKEN_BYTES } from './direct.js';

/**
 * The first application bytes of an authenticated hyperswarm connection, which decide whether
 * the peers move to the direct TCP path:
 *   responder -> initiator  OFFER    = 0x01, u16 BE port (0: no direct path), token, u8 host length, host
 *   initiator -> responder  FALLBACK = 0x02, sent only when the initiator could not use the offer
 *   either way              REFUSED  = 0x03, u32 BE length, the signed membership record (its text)
 * With a usable offer the initiator dials, proves itself and sends the token over TCP; nothing
 * more is written on the hyperswarm connection. Host "" means "the address you reach me from".
 * REFUSED replaces a node's first message when the peer proved the cluster secret but is not in
 * the membership the node enforces, and ends the connection: a removed node (or one not yet
 * admitted) learns why every node turns it away, from the publisher's own signature.
 */
const OFFER = 1;
export const FALLBACK = Buffer.from([2]);
const REFUSED = 3;
const REFUSAL_HEAD = 5;
/** A record of 10^4 members is ~1.5 MB. */
const MAX_REFUSAL_BYTES = 8 << 20;
const FIXED = 1 + 2 + DIRECT_TOKEN_BYTES + 1;
const MAX_HOST = 64;

export interface PathOffer {
  port: number;
  host: string;
  token: Buffer;
}

export function encodeOffer(o: PathOffer): Buffer {
  const host = Buffer.from(o.host, 'latin1');
  if (host.byteLength > MAX_HOST) throw ChunkswarmError.config('network.host', `${JSON.stringify(o.host)} is longer than ${MAX_HOST} characters`);
  const out = Buffer.alloc(FIXED + host.byteLength);
  out[0] = OFFER;
  out.writeUInt16BE(o.port, 1);
  o.token.copy(out, 3);
  out[FIXED - 1] = host.byteLength;
  host.copy(out, FIXED);
  return out;
}

/** The peer turned this node away: `record` is the membership it enforces, to be checked like any other copy. */
export class RefusedByPeer extends ChunkswarmError {
  constructor(readonly record: string) {
    super('E_AUTH', 'the peer is enforcing a membership that leaves this node out');
  }
}

export function encodeRefusal(record: string): Buffer {
  const text = Buffer.from(record, 'utf8');
  const out = Buffer.alloc(REFUSAL_HEAD + text.byteLength);
  out[0] = REFUSED;
  out.writeUInt32BE(text.byteLength, 1);
  text.copy(out, REFUSAL_HEAD);
  return out;
}

function refusalLength(head: Buffer): number | null {
  if (head.byteLength < REFUSAL_HEAD) return null;
  const n = head.readUInt32BE(1);
  if (n > MAX_REFUSAL_BYTES) throw malformed(`refusal of ${n} bytes`);
  return REFUSAL_HEAD + n;
}

/** Throws RefusedByPeer if `message` (a whole message read by offerLength or checkFallback) is a refusal. */
export function throwIfRefused(message: Buffer): void {
  if (message[0] === REFUSED) throw new RefusedByPeer(message.subarray(REFUSAL_HEAD).toString('utf8'));
}

/** The length of the offer (or refusal) at the start of `head`, or null if more bytes are needed; E_PROTOCOL if it is none. */
export function offerLength(head: Buffer): number | null {
  if (head[0] === REFUSED) return refusalLength(head);
  if (head.byteLength >= 1 && head[0] !== OFFER) throw malformed(`starts with byte ${head[0]}`);
  if (head.byteLength < FIXED) return null;
  const hostLength = head[FIXED - 1]!;
  if (hostLength > MAX_HOST) throw malformed(`host of ${hostLength} bytes`);
  return FIXED + hostLength;
}

export function decodeOffer(message: Buffer): PathOffer {
  const host = message.subarray(FIXED).toString('latin1');
  // The host is dialed: only a literal IPv4 address, never a name to resolve.
  if (host !== '' && !isIPv4(host)) throw malformed(`host ${JSON.stringify(host)} is not an IPv4 address`);
  return { port: message.readUInt16BE(1), token: Buffer.from(message.subarray(3, 3 + DIRECT_TOKEN_BYTES)), host };
}

/** The initiator's answer, if any: FALLBACK, or a refusal. */
export function checkFallback(head: Buffer): number | null {
  if (head.byteLength === 0) return null;
  if (head[0] === REFUSED) return refusalLength(head);
  if (head[0] !== FALLBACK[0]) throw malformed(`answer byte ${head[0]}`);
  return 1;
}

function malformed(why: string): ChunkswarmError {
  return new ChunkswarmError('E_PROTOCOL', `peer sent a malformed direct-path message: ${why}`);
}
