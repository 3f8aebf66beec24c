import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/error-code.js';
import { checkFallback, decodeOffer, encodeOffer, encodeRefusal, FALLBACK, offerLength, RefusedByPeer, throwIfRefused } from '../../src/swarm/path-offer.js';

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

  it('accepts only FALLBACK or a refusal as the answer', () => {
    expect(checkFallback(Buffer.alloc(0))).toBeNull();
    expect(checkFallback(Buffer.concat([FALLBACK, Buffer.from('wire bytes')]))).toBe(1);
    expect(codeOf(() => checkFallback(Buffer.from([1])))).toBe('E_PROTOCOL');
  });

  it('a refusal stands for the offer or the answer, whole once its length is in, and carries the record', () => {
    const record = JSON.stringify({ body: { version: 7, members: [{ key: 'ab'.repeat(32), name: 'wéb-2' }] }, signature: 'x' });
    const bytes = encodeRefusal(record);
    for (const length of [offerLength, checkFallback]) {
      expect(length(bytes.subarray(0, 4))).toBeNull();
      expect(length(Buffer.concat([bytes, Buffer.from('more')]))).toBe(bytes.byteLength);
    }
    const thrown = (() => {
      try {
        throwIfRefused(bytes);
        return null;
      } catch (err) {
        return err;
      }
    })();
    expect(thrown).toBeInstanceOf(RefusedByPeer);
    expect((thrown as RefusedByPeer).record).toBe(record);
    expect(() => throwIfRefused(FALLBACK)).not.toThrow();
    // A length no record has is a broken peer, not a reason to buffer gigabytes.
    const huge = Buffer.from([3, 0xff, 0xff, 0xff, 0xff]);
    expect(codeOf(() => offerLength(huge))).toBe('E_PROTOCOL');
    expect(codeOf(() => checkFallback(huge))).toBe('E_PROTOCOL');
  });
});
