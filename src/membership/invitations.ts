import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { ChunkswarmError, SerialQueue } from '../core/index.js';
import { atomicWrite, readTextOrNull } from '../store/index.js';
import { INVITATION_SECRET_BYTES } from './token.js';

/** One invitation as the publisher keeps it: the hash of its secret, never the secret. */
export interface Invitation {
  /** The first characters of `hash`: what `token list` shows and `token revoke` takes. */
  id: string;
  /** SHA-256 of the invitation secret, hex. */
  hash: string;
  created: string;
  expires: string;
  /** How many nodes may join with it. */
  uses: number;
  redeemed: Array<{ key: string; name: string; at: string }>;
  revoked: string | null;
}

export type InvitationState = 'active' | 'used' | 'expired' | 'revoked';

const ID_CHARS = 12;
const fileSchema = z.object({
  invitations: z.array(
    z.object({
      id: z.string(),
      hash: z.string().regex(/^[0-9a-f]{64}$/),
      created: z.string(),
      expires: z.string(),
      uses: z.number().int().positive(),
      redeemed: z.array(z.object({ key: z.string(), name: z.string(), at: z.string() })),
      revoked: z.string().nullable(),
    }),
  ),
});

export function invitationsPath(dataDir: string): string {
  return join(dataDir, 'invitations.json');
}

function hashInvitationSecret(secret: Uint8Array): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function invitationState(inv: Invitation, now: Date): InvitationState {
  if (inv.revoked !== null) return 'revoked';
  if (inv.redeemed.length >= inv.uses) return 'used';
  if (Date.parse(inv.expires) <= now.getTime()) return 'expired';
  return 'active';
}

/**
 * Why an invitation cannot let a node in, as the coded error the joiner sees; null if it can. Pure.
 * `inv` undefined: no invitation has this secret (a forged token, or another publisher's).
 */
export function redeemRefusal(inv: Invitation | undefined, now: Date): ChunkswarmError | null {
  if (!inv) {
    return new ChunkswarmError('E_TOKEN_UNKNOWN', 'the publisher has no invitation with this secret: the token is forged, or was made by another publisher (or its record was lost)');
  }
  switch (invitationState(inv, now)) {
    case 'revoked':
      return new ChunkswarmError('E_TOKEN_REVOKED', `invitation ${inv.id} was revoked on the publisher at ${inv.revoked}: ask for a new token`);
    case 'used':
      return new ChunkswarmError(
        'E_TOKEN_USED',
        `invitation ${inv.id} was already used (${inv.redeemed.length} of ${inv.uses}; last by node ${inv.redeemed.at(-1)?.key.slice(0, 16) ?? '?'} at ${inv.redeemed.at(-1)?.at ?? '?'}): ` +
          'ask for a new token; if that was not you, run "chunkswarm remove <key>" on the publisher',
      );
    case 'expired':
      return new ChunkswarmError('E_TOKEN_EXPIRED', `invitation ${inv.id} expired at ${inv.expires}: ask for a new token`);
    case 'active':
      return null;
  }
}

/**
 * The publisher's invitations (dataDir/invitations.json, 0600). One process writes it at a time:
 * the running `serve` (which also redeems), or a CLI command holding the data directory's lock.
 */
export class InvitationStore {
  private list: Invitation[] = [];
  private readonly queue = new SerialQueue();

  private constructor(private readonly path: string) {}

  static async open(dataDir: string): Promise<InvitationStore> {
    const store = new InvitationStore(invitationsPath(dataDir));
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    const text = await readTextOrNull(this.path);
    if (text === null) return;
    let parsed;
    try {
      parsed = fileSchema.parse(JSON.parse(text));
    } catch {
      throw new ChunkswarmError('E_CONFIG', `${this.path} is not a valid invitation list: fix or delete it (deleting it voids every token not yet used)`);
    }
    this.list = parsed.invitations;
  }

  all(): readonly Invitation[] {
    return this.list;
  }

  /** A new invitation and its secret, which exists nowhere else once the token is printed. */
  create(o: { ttlSec: number; uses: number; now?: Date }): Promise<{ invitation: Invitation; secret: Uint8Array }> {
    return this.queue.run(async () => {
      const now = o.now ?? new Date();
      const secret = randomBytes(INVITATION_SECRET_BYTES);
      const hash = hashInvitationSecret(secret);
      const invitation: Invitation = {
        id: hash.slice(0, ID_CHARS),
        hash,
        created: now.toISOString(),
        expires: new Date(now.getTime() + o.ttlSec * 1000).toISOString(),
        uses: o.uses,
        redeemed: [],
        revoked: null,
      };
      await this.save([...this.list, invitation]);
      return { invitation, secret };
    });
  }

  /** Revokes by id (or any unambiguous prefix of it). */
  revoke(id: string, now = new Date()): Promise<Invitation> {
    return this.queue.run(async () => {
      const found = this.list.filter((i) => id.length > 0 && i.id.startsWith(id));
      if (found.length === 0) throw ChunkswarmError.notFound(`invitation ${JSON.stringify(id)} (see "chunkswarm token list")`);
      if (found.length > 1) throw ChunkswarmError.usage(`invitation id ${JSON.stringify(id)} is ambiguous: ${found.map((i) => i.id).join(', ')}`);
      const inv = found[0]!;
      if (inv.revoked === null) {
        const revoked = { ...inv, revoked: now.toISOString() };
        await this.save(this.list.map((i) => (i === inv ? revoked : i)));
        return revoked;
      }
      return inv;
    });
  }

  /**
   * Counts one use of the invitation with this secret for node `key`, stored before it returns, so
   * that a crash afterwards can never let the token in twice. Throws the refusal otherwise.
   */
  redeem(secret: Uint8Array, node: { key: string; name: string }, now = new Date()): Promise<Invitation> {
    return this.queue.run(async () => {
      const hash = hashInvitationSecret(secret);
      const inv = this.list.find((i) => i.hash === hash);
      const refusal = redeemRefusal(inv, now);
      if (refusal) throw refusal;
      const used = { ...inv!, redeemed: [...inv!.redeemed, { key: node.key, name: node.name, at: now.toISOString() }] };
      await this.save(this.list.map((i) => (i === inv ? used : i)));
      return used;
    });
  }

  private async save(list: Invitation[]): Promise<void> {
    await atomicWrite(this.path, JSON.stringify({ invitations: list }, null, 2) + '\n', { mode: 0o600 });
    this.list = list;
  }
}
