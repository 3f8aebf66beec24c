import { z } from 'zod';
import { ChunkswarmError } from '../core/index.js';
import { clusterIdOf, signDetached, verifyDetached } from '../manifest/index.js';

/**
 * The cluster's membership: the node keys allowed in its swarm, signed by the publisher, with a
 * version that only goes up. It travels like a release head (any node passes it on, every node
 * checks the signature and the version), so that `admit` and `remove` reach the whole cluster.
 */
export interface Member {
  /** The node's swarm public key, hex. */
  key: string;
  /** A label for people (the `--name` given at join), not checked. */
  name: string;
}

export interface MembershipBody {
  /** clusterIdOf(publisher key): a record of another cluster is refused. */
  cluster: string;
  version: number;
  created: string;
  /** Sorted by key, no duplicates. */
  members: Member[];
}

export interface MembershipRecord {
  body: MembershipBody;
  signature: Uint8Array;
}

/** Domain separation: a membership signature can never pass for a release's, nor the other way round. */
const LABEL = 'chunkswarm membership v1\n';
export const MAX_MEMBERS = 65_536;
export const MAX_NAME_CHARS = 64;
/** Bounds what a peer can make us parse: MAX_MEMBERS entries of key and name, with room to spare. */
export const MAX_RECORD_CHARS = 16 << 20;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
export const memberName = z
  .string()
  .max(MAX_NAME_CHARS, `at most ${MAX_NAME_CHARS} characters`)
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters');

const bodySchema = z.strictObject({
  cluster: hex64,
  version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  created: z.string().max(64),
  members: z.array(z.strictObject({ key: hex64, name: memberName })).max(MAX_MEMBERS),
});

const recordSchema = z.strictObject({
  membership: bodySchema,
  signature: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 lowercase hex characters'),
});

/** The signed bytes: the label, then the body as JSON with a fixed key order. */
function signedBytes(b: MembershipBody): Buffer {
  const canonical = JSON.stringify({
    cluster: b.cluster,
    version: b.version,
    created: b.created,
    members: b.members.map((m) => ({ key: m.key, name: m.name })),
  });
  return Buffer.from(LABEL + canonical, 'utf8');
}

/** Sorted by key, one entry per key (the last given wins). */
export function normalizeMembers(members: readonly Member[]): Member[] {
  const byKey = new Map<string, Member>();
  for (const m of members) byKey.set(m.key, { key: m.key, name: m.name });
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function signMembership(body: MembershipBody, privateKeyPem: string, publisherKey: Uint8Array): MembershipRecord {
  const cluster = clusterIdOf(publisherKey);
  if (body.cluster !== cluster) throw ChunkswarmError.wrongCluster(cluster, body.cluster);
  const checked = bodySchema.parse({ ...body, members: normalizeMembers(body.members) });
  return { body: checked, signature: signDetached(signedBytes(checked), privateKeyPem, publisherKey) };
}

export function encodeMembership(r: MembershipRecord): string {
  return JSON.stringify({ membership: r.body, signature: Buffer.from(r.signature).toString('hex') });
}

/**
 * Parses and checks a record: E_BAD_OBJECT if malformed, E_WRONG_CLUSTER if it names another
 * cluster, E_BAD_SIGNATURE unless the trusted publisher key signed exactly this body.
 */
export function decodeMembership(text: string, trustedPublisherKey: Uint8Array): MembershipRecord {
  if (typeof text !== 'string' || text.length > MAX_RECORD_CHARS) throw ChunkswarmError.badObject(`membership record larger than ${MAX_RECORD_CHARS} characters`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw ChunkswarmError.badObject('membership record is not JSON');
  }
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw ChunkswarmError.badObject(`membership record: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  const body = parsed.data.membership;
  const sorted = normalizeMembers(body.members);
  if (sorted.length !== body.members.length || sorted.some((m, i) => m.key !== body.members[i]!.key)) {
    throw ChunkswarmError.badObject('membership record: members are not sorted by key without duplicates');
  }
  const cluster = clusterIdOf(trustedPublisherKey);
  if (body.cluster !== cluster) {
    throw new ChunkswarmError('E_WRONG_CLUSTER', `membership record belongs to cluster ${body.cluster}, this node is in cluster ${cluster}`);
  }
  const signature = new Uint8Array(Buffer.from(parsed.data.signature, 'hex'));
  if (!verifyDetached(signedBytes(body), signature, trustedPublisherKey)) throw ChunkswarmError.badSignature(`membership version ${body.version}`);
  return { body, signature };
}

/** Same version and same members: the same record, whoever passed it on. */
export function sameMembership(a: MembershipRecord, b: MembershipRecord): boolean {
  return signedBytes(a.body).equals(signedBytes(b.body));
}
