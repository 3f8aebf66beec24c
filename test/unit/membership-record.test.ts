import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusterIdOf, generatePublisherKeys } from '../../src/manifest/index.js';
import { decodeMembership, encodeMembership, MembershipBook, membershipPath, signMembership, type MembershipBody } from '../../src/membership/index.js';
import { declareCases } from '../faults/record.js';
import { codeOf } from '../support/error-code.js';

const publisher = generatePublisherKeys();
const stranger = generatePublisherKeys();
const key = (c: string) => c.repeat(64);
const cluster = clusterIdOf(publisher.publicKey);

function body(version: number, keys: string[]): MembershipBody {
  return { cluster, version, created: '2026-11-26T10:00:00.000Z', members: keys.map((k) => ({ key: k, name: `n-${k[0]}` })) };
}

function signed(version: number, keys: string[]): string {
  return encodeMembership(signMembership(body(version, keys), publisher.privateKeyPem, publisher.publicKey));
}

/** The encoded record with its body edited (the signature left as it was). */
function tampered(text: string, edit: (b: MembershipBody) => void): string {
  const raw = JSON.parse(text) as { membership: MembershipBody; signature: string };
  edit(raw.membership);
  return JSON.stringify(raw);
}

describe('membership record', () => {
  it('round-trips, members sorted by key, one entry per key', () => {
    const r = signMembership(body(3, [key('c'), key('a'), key('c')]), publisher.privateKeyPem, publisher.publicKey);
    expect(r.body.members.map((m) => m.key)).toEqual([key('a'), key('c')]);
    const back = decodeMembership(encodeMembership(r), publisher.publicKey);
    expect(back.body).toEqual(r.body);
  });

  it('refuses another cluster, a changed body, a foreign signer and malformed input, each with its code', (ctx) => {
    declareCases(ctx, { kind: 'bad-input', group: 'membership records', tried: 12 });
    const good = signed(2, [key('a'), key('b')]);
    expect(codeOf(() => decodeMembership(good, publisher.publicKey))).toBe('none');
    expect(codeOf(() => decodeMembership(good, stranger.publicKey))).toBe('E_WRONG_CLUSTER');
    expect(codeOf(() => decodeMembership(tampered(good, (b) => b.members.push({ key: key('f'), name: '' })), publisher.publicKey))).toBe('E_BAD_SIGNATURE');
    expect(codeOf(() => decodeMembership(tampered(good, (b) => (b.version = 9)), publisher.publicKey))).toBe('E_BAD_SIGNATURE');
    expect(codeOf(() => decodeMembership(tampered(good, (b) => (b.members[0]!.name = 'evil')), publisher.publicKey))).toBe('E_BAD_SIGNATURE');
    // Signed by a stranger for our cluster id: the signature does not verify with our key.
    const forged = encodeMembership(signMembership({ ...body(5, [key('e')]), cluster: clusterIdOf(stranger.publicKey) }, stranger.privateKeyPem, stranger.publicKey));
    expect(codeOf(() => decodeMembership(tampered(forged, (b) => (b.cluster = cluster)), publisher.publicKey))).toBe('E_BAD_SIGNATURE');
    expect(codeOf(() => decodeMembership(tampered(good, (b) => b.members.reverse()), publisher.publicKey))).toBe('E_BAD_OBJECT');
    expect(codeOf(() => decodeMembership(tampered(good, (b) => b.members.push(b.members[0]!)), publisher.publicKey))).toBe('E_BAD_OBJECT');
    expect(codeOf(() => decodeMembership(tampered(good, (b) => (b.members[0]!.key = 'not a key')), publisher.publicKey))).toBe('E_BAD_OBJECT');
    expect(codeOf(() => decodeMembership(tampered(good, (b) => (b.members[0]!.name = 'a\nb')), publisher.publicKey))).toBe('E_BAD_OBJECT');
    expect(codeOf(() => decodeMembership('{', publisher.publicKey))).toBe('E_BAD_OBJECT');
    expect(codeOf(() => decodeMembership('x'.repeat(17 << 20), publisher.publicKey))).toBe('E_BAD_OBJECT');
    expect(codeOf(() => signMembership({ ...body(1, []), cluster: clusterIdOf(stranger.publicKey) }, publisher.privateKeyPem, publisher.publicKey))).toBe('E_WRONG_CLUSTER');
  });
});

describe('membership book', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-membership-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = (allowlist: string[] | null) => MembershipBook.open({ dataDir: dir, publisherKey: publisher.publicKey, allowlist });
  const signer = { privateKeyPem: publisher.privateKeyPem, selfKey: key('0'), selfName: 'publisher' };

  it('allowlist: null lets anyone in; a list governs until a record exists, then the record does', async () => {
    expect((await open(null)).allowlist()).toBeNull();
    const book = await open([key('a')]);
    expect(book.allowlist()).toEqual([key('a')]);
    expect((await book.offer(signed(1, [key('b')]))).kind).toBe('new');
    expect(book.allowlist()).toEqual([key('b')]);
  });

  it('takes only a newer version; the same record again is known; a different one of the same version is refused', async () => {
    const book = await open([]);
    expect((await book.offer(signed(2, [key('a')]))).kind).toBe('new');
    expect((await book.offer(signed(2, [key('a')]))).kind).toBe('known');
    const other = await book.offer(signed(2, [key('b')]));
    expect(other.kind === 'refused' && other.error.code).toBe('E_STALE_VERSION');
    const older = await book.offer(signed(1, [key('b')]));
    expect(older.kind === 'refused' && older.error.code).toBe('E_STALE_VERSION');
    const foreign = await book.offer(tampered(signed(3, [key('a')]), (b) => b.members.push({ key: key('f'), name: '' })));
    expect(foreign.kind === 'refused' && foreign.error.code).toBe('E_BAD_SIGNATURE');
    expect(book.allowlist()).toEqual([key('a')]);
    // What was taken is on disk, and a reopened book starts from it.
    expect((await open([])).record?.body.version).toBe(2);
  });

  it('amend signs the next version from the config list, and the publisher node always stays in', async () => {
    const book = await open([key('a')]);
    const r1 = await book.amend((ms) => [...ms, { key: key('b'), name: 'web-2' }], signer);
    expect(r1.body.version).toBe(1);
    expect(r1.body.members.map((m) => m.key)).toEqual([key('0'), key('a'), key('b')]);
    const r2 = await book.amend((ms) => ms.filter((m) => m.key === key('b')), signer);
    expect(r2.body.version).toBe(2);
    expect(r2.body.members).toEqual([{ key: key('0'), name: 'publisher' }, { key: key('b'), name: 'web-2' }]);
    expect(decodeMembership(await readFile(membershipPath(dir), 'utf8'), publisher.publicKey).body).toEqual(r2.body);
  });

  it('a stored record that does not verify stops the node with the file named', async () => {
    await writeFile(membershipPath(dir), tampered(signed(1, [key('a')]), (b) => (b.version = 2)));
    await expect(open([])).rejects.toThrow(/membership\.json: .*delete the file/);
  });
});
