import { isIPv4 } from 'node:net';
import { ChunkswarmError } from '../core/index.js';
import { DIRECT_TOKEN_BYTES } from './direct.js';

/**
 * The first application bytes of an authenticated hyperswarm connection, which decide whether
 * the peers move to the direct TCP path:
 *   responder -> initiator  OFFER    = 0x01, u16 BE port (0: no direct path), token, u8 host length, host
 *   initiator -> responder  FALLBACK = 0x02, sent only when the initiator could not use the offer
 * With a usable offer the initiator dials, proves itself and sends the token over TCP; nothing
 * more is written on the hyperswarm connection. Host "" means "the address you reach me from".
 */
const OFFER = 1;
export const FALLBACK = Buffer.from([2]);
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

/** The length of the offer at the start of `head`, or null if more bytes are needed; E_PROTOCOL if it is none. */
export function offerLength(head: Buffer): number | null {
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

/** The initiator's answer, if any: only FALLBACK is valid. */
export function checkFallback(head: Buffer): number | null {
  if (head.byteLength === 0) return null;
  if (head[0] !== FALLBACK[0]) throw malformed(`answer byte ${head[0]}`);
  return 1;
}

function malformed(why: string): ChunkswarmError {
  return new ChunkswarmError('E_PROTOCOL', `peer sent a malformed direct-path message: ${why}`);
}
