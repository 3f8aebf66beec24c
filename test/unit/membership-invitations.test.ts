import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvitationStore, redeemRefusal, type Invitation } from '../../src/membership/index.js';

const T0 = new Date('2026-11-26T10:00:00Z');
const at = (sec: number) => new Date(T0.getTime() + sec * 1000);
const node = (c: string) => ({ key: c.repeat(64), name: `web-${c}` });

const base: Invitation = { id: 'abc', hash: '0'.repeat(64), created: T0.toISOString(), expires: at(3600).toISOString(), uses: 1, redeemed: [], revoked: null };

describe('invitation refusals', () => {
  it('unknown, revoked, used up and expired are each their own code; an active one passes', () => {
    expect(redeemRefusal(undefined, T0)?.code).toBe('E_TOKEN_UNKNOWN');
    expect(redeemRefusal({ ...base, revoked: at(1).toISOString() }, at(2))?.code).toBe('E_TOKEN_REVOKED');
    expect(redeemRefusal({ ...base, redeemed: [{ ...node('a'), at: at(1).toISOString() }] }, at(2))?.code).toBe('E_TOKEN_USED');
    expect(redeemRefusal(base, at(3600))?.code).toBe('E_TOKEN_EXPIRED');
    expect(redeemRefusal(base, at(3599))).toBeNull();
    expect(redeemRefusal({ ...base, uses: 2, redeemed: [{ ...node('a'), at: at(1).toISOString() }] }, at(2))).toBeNull();
  });
});

describe('invitation store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-invitations-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps only the hash of the secret, in a 0600 file, and counts uses across reopenings', async () => {
    const store = await InvitationStore.open(dir);
    const { invitation, secret } = await store.create({ ttlSec: 3600, uses: 2, now: T0 });
    const file = join(dir, 'invitations.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).not.toContain(Buffer.from(secret).toString('hex'));
    await store.redeem(secret, node('a'), at(10));
    const again = await InvitationStore.open(dir);
    const used = await again.redeem(secret, node('b'), at(20));
    expect(used.redeemed.map((r) => r.key)).toEqual([node('a').key, node('b').key]);
    await expect(again.redeem(secret, node('c'), at(30))).rejects.toMatchObject({ code: 'E_TOKEN_USED' });
    expect(again.all()).toHaveLength(1);
    expect(again.all()[0]!.id).toBe(invitation.id);
  });

  it('a revoked, an expired or an unknown secret lets nobody in, and a revocation takes an id prefix', async () => {
    const store = await InvitationStore.open(dir);
    const a = await store.create({ ttlSec: 60, uses: 1, now: T0 });
    const b = await store.create({ ttlSec: 60, uses: 1, now: T0 });
    await store.revoke(a.invitation.id.slice(0, 6), at(1));
    await expect(store.redeem(a.secret, node('a'), at(2))).rejects.toMatchObject({ code: 'E_TOKEN_REVOKED' });
    await expect(store.redeem(b.secret, node('a'), at(60))).rejects.toMatchObject({ code: 'E_TOKEN_EXPIRED' });
    await expect(store.redeem(new Uint8Array(16), node('a'), at(2))).rejects.toMatchObject({ code: 'E_TOKEN_UNKNOWN' });
    await expect(store.revoke('zzz')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
