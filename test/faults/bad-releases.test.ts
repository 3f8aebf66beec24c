/**
 * Bad input, releases: the gate every gossiped head passes (HeadBook) refuses forged, foreign,
 * stale, replayed and malformed heads with a coded error, and leaves the node's stored heads as
 * they were; a node restarted on the same store refuses the same replays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asObjectHash, type ErrorCode } from '../../src/core/index.js';
import {
  clusterIdOf, encodeSignedRelease, generatePublisherKeys, releaseId, signRelease, type ReleaseBody, type SignedRelease,
} from '../../src/manifest/index.js';
import { HeadBook } from '../../src/session/heads.js';
import { ReleaseStore } from '../../src/store/index.js';
import { declareCases } from './record.js';

const publisher = generatePublisherKeys();
const stranger = generatePublisherKeys();
const cluster = clusterIdOf(publisher.publicKey);
let dir: string;
let store: ReleaseStore;

function body(version: number, over: Partial<ReleaseBody> = {}): ReleaseBody {
  return { kind: 'release', cluster, version, root: asObjectHash(String(version % 10).repeat(64)), parent: null, created: 1_700_000_000_000 + version, note: `v${version}`, ...over };
}
const signed = (b: ReleaseBody, keys = publisher): SignedRelease => signRelease(b, keys.privateKeyPem, keys.publicKey);
const bytesOf = (s: SignedRelease) => encodeSignedRelease(s);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-fault-heads-'));
  store = new ReleaseStore(join(dir, 'data'));
  await store.init();
  const book = new HeadBook(store, publisher.publicKey);
  for (const v of [1, 2]) expect((await book.offer(bytesOf(signed(body(v))))).kind).toBe('new');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bad input: release heads', () => {
  const v2 = () => bytesOf(signed(body(2)));
  const valid = bytesOf(signed(body(3)));
  const strangers = signed({ ...body(9), cluster: clusterIdOf(stranger.publicKey) }, stranger);
  const rows: Array<[string, () => Uint8Array, ErrorCode]> = [
    ['random bytes', () => Uint8Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff), 'E_BAD_OBJECT'],
    ['empty', () => new Uint8Array(0), 'E_BAD_OBJECT'],
    ['truncated head', () => valid.subarray(0, valid.length - 1), 'E_BAD_OBJECT'],
    ['head with trailing bytes', () => Uint8Array.from([...valid, 0]), 'E_BAD_OBJECT'],
    ['signed by another key, for its own cluster', () => bytesOf(strangers), 'E_WRONG_CLUSTER'],
    ['signed by another key, claiming this cluster', () => bytesOf({ ...strangers, body: { ...strangers.body, cluster } }), 'E_WRONG_CLUSTER'],
    ["this cluster's key, another key's signature", () => bytesOf({ ...strangers, body: body(9), publicKey: publisher.publicKey }), 'E_BAD_SIGNATURE'],
    ['version raised after signing', () => { const s = signed(body(3)); return bytesOf({ ...s, body: { ...s.body, version: 99 } }); }, 'E_BAD_SIGNATURE'],
    ['root changed after signing', () => { const s = signed(body(3)); return bytesOf({ ...s, body: { ...s.body, root: asObjectHash('f'.repeat(64)) } }); }, 'E_BAD_SIGNATURE'],
    ['signature bit flipped', () => { const s = signed(body(3)); const sig = Uint8Array.from(s.signature); sig[0]! ^= 1; return bytesOf({ ...s, signature: sig }); }, 'E_BAD_SIGNATURE'],
    ['another release claiming an older version this node holds', () => bytesOf(signed(body(1, { note: 'twin' }))), 'E_STALE_VERSION'],
    ['another release claiming the newest version', () => bytesOf(signed(body(2, { note: 'twin' }))), 'E_STALE_VERSION'],
  ];

  it.for(rows)('refuses %s with its code and stores nothing', async ([, make, code], ctx) => {
    declareCases(ctx, { kind: 'bad-input', group: 'releases', tried: 1 });
    const book = new HeadBook(store, publisher.publicKey);
    await book.reload();
    const before = await store.versions();
    const verdict = await book.offer(make());
    expect(verdict.kind === 'refused' && verdict.error.code).toBe(code);
    expect(await store.versions()).toEqual(before);
    expect(book.latest && releaseId(book.latest.body)).toBe(releaseId(body(2)));
  });

  it('still takes the newest head once, and a valid next release (the gate is not shut)', async () => {
    const book = new HeadBook(store, publisher.publicKey);
    await book.reload();
    expect((await book.offer(v2())).kind).toBe('known');
    // A peer behind this node announces the older head it is on: nothing to refuse or store.
    expect((await book.offer(bytesOf(signed(body(1))))).kind).toBe('known');
    expect((await book.offer(valid)).kind).toBe('new');
    expect(await store.versions()).toEqual([1, 2, 3]);
  });
});
