import { z } from 'zod';
import { ChunkswarmError, systemClock, type ErrorCode } from '../core/index.js';
import { readPrefix, type PrefixSource } from '../swarm/index.js';
import { memberName } from './record.js';

/**
 * The join exchange, one JSON line each way over a Noise connection to the publisher's join
 * service (whose key the token pins): the joiner sends the invitation secret, the publisher
 * answers with the cluster secret and the membership record that admits the joiner's key.
 */
export const joinRequestSchema = z.strictObject({
  v: z.literal(1),
  /** The cluster the token names: a publisher of another cluster refuses. */
  cluster: z.string().regex(/^[0-9a-f]{64}$/),
  secret: z.string().regex(/^[0-9a-f]{32}$/),
  name: memberName,
});
export type JoinRequest = z.infer<typeof joinRequestSchema>;

export const joinAnswerSchema = z.discriminatedUnion('ok', [
  z.strictObject({
    ok: z.literal(true),
    clusterSecret: z.string().regex(/^[0-9a-f]{64}$/),
    /** The signed membership record (encodeMembership), null if the publisher keeps none. */
    membership: z.string().nullable(),
    /** Whether the publisher enforces the membership (its network.allowlist is not null). */
    enforced: z.boolean(),
  }),
  z.strictObject({ ok: z.literal(false), code: z.string(), message: z.string().max(2000) }),
]);
export type JoinAnswer = z.infer<typeof joinAnswerSchema>;

/** The refusals a joiner is told as they are; any other failure is reported without detail. */
export const JOIN_REFUSALS: readonly ErrorCode[] = ['E_TOKEN_UNKNOWN', 'E_TOKEN_REVOKED', 'E_TOKEN_USED', 'E_TOKEN_EXPIRED', 'E_WRONG_CLUSTER', 'E_USAGE'];

export const MAX_REQUEST_BYTES = 4096;
export const MAX_ANSWER_BYTES = 32 << 20;

/** Reads one newline-terminated JSON line of at most `maxBytes`: E_PROTOCOL if longer or not JSON. */
export async function readJsonLine(stream: PrefixSource, o: { maxBytes: number; timeoutMs: number; what: string }): Promise<unknown> {
  const { message } = await readPrefix(stream, Buffer.alloc(0), (head) => {
    const nl = head.indexOf(10);
    if (nl >= 0) return nl + 1;
    if (head.byteLength > o.maxBytes) throw new ChunkswarmError('E_PROTOCOL', `${o.what} is longer than ${o.maxBytes} bytes`);
    return null;
  }, { timeoutMs: o.timeoutMs, clock: systemClock, what: o.what });
  try {
    return JSON.parse(message.toString('utf8'));
  } catch {
    throw new ChunkswarmError('E_PROTOCOL', `${o.what} is not JSON`);
  }
}

export function jsonLine(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value) + '\n', 'utf8');
}
