import { randomBytes } from 'node:crypto';
import HyperDHT from 'hyperdht';
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken, joinKeyPair, nodeKeyPair, tokenBootstrap, TOKEN_PREFIX, type JoinToken } from '../../src/membership/index.js';
import { seededRandom } from '../../src/scheduler/index.js';
import { codeOf } from '../support/error-code.js';

const token: JoinToken = {
  publisherKey: randomBytes(32),
  joinKey: randomBytes(32),
  secret: randomBytes(16),
  expires: 1_900_000_000,
  bootstrap: ['10.0.0.1:49737', 'web-2.example:49737'],
};
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('join token', () => {
  it('round-trips what a new node needs, on one line', () => {
    const text = encodeToken(token);
    expect(text.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(text).toMatch(/^[\w.-]+$/);
    const back = decodeToken(`  ${text}\n`);
    expect(Buffer.from(back.publisherKey)).toEqual(Buffer.from(token.publisherKey));
    expect(Buffer.from(back.joinKey)).toEqual(Buffer.from(token.joinKey));
    expect(Buffer.from(back.secret)).toEqual(Buffer.from(token.secret));
    expect(back.expires).toBe(token.expires);
    expect(back.bootstrap).toEqual(token.bootstrap);
  });

  it('carries every configured bootstrap node, or 16 of a longer list (a cluster whose every frontend is one): a token can always be made', () => {
    const few = ['10.0.0.1:49737', '10.0.0.2:49737'];
    expect(tokenBootstrap(few)).toEqual(few);
    const all = Array.from({ length: 33 }, (_, i) => `10.0.0.${i + 1}:49737`);
    const random = seededRandom(7);
    const drawn = tokenBootstrap(all, random);
    expect(drawn).toHaveLength(16);
    expect(new Set(drawn).size).toBe(16);
    expect(drawn.every((a) => all.includes(a))).toBe(true);
    expect(drawn).toEqual([...drawn].sort((a, b) => all.indexOf(a) - all.indexOf(b)));
    expect(decodeToken(encodeToken({ ...token, bootstrap: drawn })).bootstrap).toEqual(drawn);
    // Each token draws anew, so joiners spread over the list.
    expect(tokenBootstrap(all, random)).not.toEqual(drawn);
  });

  it('a token cut short at any length, or with any one character changed, is E_TOKEN', () => {
    const text = encodeToken(token);
    const wrong: string[] = [];
    for (let n = 0; n < text.length; n++) if (codeOf(() => decodeToken(text.slice(0, n))) !== 'E_TOKEN') wrong.push(`cut at ${n}`);
    for (let i = TOKEN_PREFIX.length; i < text.length; i++) {
      const c = B64[(B64.indexOf(text[i]!) + 1 + (i % 63)) % 64]!;
      if (codeOf(() => decodeToken(text.slice(0, i) + c + text.slice(i + 1))) !== 'E_TOKEN') wrong.push(`changed at ${i}`);
    }
    expect(codeOf(() => decodeToken(text + 'A'))).toBe('E_TOKEN');
    expect(codeOf(() => decodeToken(text.replace(TOKEN_PREFIX, 'csjoin2.')))).toBe('E_TOKEN');
    expect(codeOf(() => decodeToken(text + '!'))).toBe('E_TOKEN');
    expect(wrong).toEqual([]);
  });

  it('refuses to make a token without bootstrap nodes or with a malformed one', () => {
    expect(codeOf(() => encodeToken({ ...token, bootstrap: [] }))).toBe('E_USAGE');
    expect(codeOf(() => encodeToken({ ...token, bootstrap: ['no-port'] }))).toBe('E_USAGE');
  });
});

describe('node identity', () => {
  it("nodeKeyPair is hyperdht's keyPair for the same seed; the join service has another key", () => {
    const seed = randomBytes(32);
    const ours = nodeKeyPair(seed);
    const theirs = HyperDHT.keyPair(seed);
    expect(ours.publicKey.equals(theirs.publicKey)).toBe(true);
    expect(ours.secretKey.equals(theirs.secretKey)).toBe(true);
    expect(joinKeyPair(seed).publicKey.equals(ours.publicKey)).toBe(false);
    expect(joinKeyPair(seed).publicKey.equals(joinKeyPair(seed).publicKey)).toBe(true);
  });
});
