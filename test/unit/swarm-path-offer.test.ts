import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/error-code.js';
import { checkFallback, decodeOffer, encodeOffer, FALLBACK, offerLength } from '../../src/swarm/path-offer.js';

describe('direct-path offer', () => {
  it('round-trips, and says how long it is once its fixed part is in', () => {
    const offer = { port: 49738, host: '10.1.2.3', token: randomBytes(16) };
    const bytes = encodeOffer(offer);
    expect(offerLength(bytes.subarray(0, 5))).toBeNull();
    expect(offerLength(bytes)).toBe(bytes.byteLength);
    expect(decodeOffer(bytes)).toEqual(offer);
    expect(decodeOffer(encodeOffer({ ...offer, host: '' })).host).toBe('');
  });

  it('refuses what no node sends: another message, a long host, a host that is not an IPv4 literal', () => {
    expect(codeOf(() => offerLength(Buffer.from([9])))).toBe('E_PROTOCOL');
    const long = encodeOffer({ port: 1, host: '', token: randomBytes(16) });
    long[long.byteLength - 1] = 200;
    expect(codeOf(() => offerLength(long))).toBe('E_PROTOCOL');
    expect(() => decodeOffer(encodeOffer({ port: 1, host: 'evil.example', token: randomBytes(16) }))).toThrow(/not an IPv4/);
    expect(codeOf(() => encodeOffer({ port: 1, host: 'x'.repeat(65), token: randomBytes(16) }))).toBe('E_CONFIG');
  });

  it('accepts only FALLBACK as the answer', () => {
    expect(checkFallback(Buffer.alloc(0))).toBeNull();
    expect(checkFallback(Buffer.concat([FALLBACK, Buffer.from('wire bytes')]))).toBe(1);
    expect(codeOf(() => checkFallback(Buffer.from([1])))).toBe('E_PROTOCOL');
  });
});
