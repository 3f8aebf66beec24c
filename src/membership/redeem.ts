import HyperDHT from 'hyperdht';
import { ChunkswarmError, isChunkswarmError, splitHostPort, systemClock, type ErrorCode } from '../core/index.js';
import { clusterIdOf } from '../manifest/index.js';
import { BootstrapWatch, routingTableOf } from '../swarm/bootstrap-watch.js';
import { createDht } from '../swarm/dht.js';
import { JOIN_REFUSALS, joinAnswerSchema, jsonLine, MAX_ANSWER_BYTES, readJsonLine } from './join-protocol.js';
import { decodeMembership, type MembershipRecord } from './record.js';
import type { JoinToken } from './token.js';

/** How long the token's bootstrap nodes have to answer before the join fails as unreachable (hyperdht's own ping gives up after 4 s). */
const BOOTSTRAP_ANSWER_MS = 4000;

export interface RedeemOptions {
  token: JoinToken;
  /** The joining node's swarm key pair: the key the publisher admits. */
  keyPair: HyperDHT.KeyPair;
  name: string;
  /** Address to bind the DHT socket to (network.host). */
  host?: string;
  timeoutMs: number;
}

export interface Redeemed {
  clusterSecret: Uint8Array;
  /** The signed membership that admits this node (null if the publisher keeps none). */
  membership: MembershipRecord | null;
  enforced: boolean;
}

/**
 * Exchanges the token's invitation for the cluster secret: finds the publisher's join service on
 * the DHT through the token's bootstrap nodes, opens a Noise connection to it (its key pinned by
 * the token, so nobody else can answer, nor read the invitation secret), and checks the answer's
 * membership record against the token's publisher key.
 */
export async function redeem(o: RedeemOptions): Promise<Redeemed> {
  const bootstrap = o.token.bootstrap.map(splitHostPort);
  const host = o.host ?? (bootstrap.every((b) => b.host === 'localhost' || /^127\./.test(b.host)) ? '127.0.0.1' : '0.0.0.0');
  // No list for hyperdht, which would wait out each dead node in it (a frontend the token names
  // that is gone) in every query: the watch puts in its table those that answer.
  const dht = createDht({ bootstrap: [], host, ephemeral: true });
  const watch = new BootstrapWatch(routingTableOf(dht), bootstrap, { clock: systemClock });
  const joinKey = Buffer.from(o.token.joinKey).toString('hex');
  let conn: HyperDHT.NoiseSecretStream | null = null;
  let timer: NodeJS.Timeout | null = null;
  let lastFailure: Error | null = null;
  let settled = false;
  // Told apart from the start: a dead bootstrap list fails in seconds, not at the deadline.
  const reachable = dht.ready().then(() => watch.start({ timeoutMs: BOOTSTRAP_ANSWER_MS }), () => false);
  try {
    const deadline = new Promise<never>((_, reject) => {
      const why = () => (lastFailure ? ` (last attempt: ${lastFailure.message})` : '');
      timer = setTimeout(() => reject(new ChunkswarmError('E_UNREACHABLE', `no answer from the publisher's join service within ${o.timeoutMs / 1000} s${why()}`)), o.timeoutMs);
    });
    const exchange = (async () => {
      if (!(await reachable)) throw new ChunkswarmError('E_UNREACHABLE', 'no bootstrap node answers');
      // A first connection between two processes can fail its handshake (the DHT's holepunch
      // race, a loaded machine): nothing was sent yet, so another attempt is safe until the
      // deadline. Once the invitation is sent, an error is final: it may have been redeemed.
      for (let attempt = 1; !settled; attempt++) {
        const c = (conn = dht.connect(o.token.joinKey, { keyPair: o.keyPair }));
        const failed = new Promise<never>((_, reject) => c.on('error', (err: Error & { code?: string }) => reject(err)));
        failed.catch(() => undefined);
        const opened = await Promise.race([c.opened, failed]).catch((err: unknown) => err as Error);
        if (opened === true) {
          c.write(jsonLine({ v: 1, cluster: clusterIdOf(o.token.publisherKey), secret: Buffer.from(o.token.secret).toString('hex'), name: o.name }));
          return Promise.race([readJsonLine(c, { maxBytes: MAX_ANSWER_BYTES, timeoutMs: o.timeoutMs, what: "the join service's answer" }), failed]);
        }
        // A failed connect resolves `opened` false just before it emits its error: wait for the cause.
        const cause = opened instanceof Error ? opened : await Promise.race([failed.catch((err: Error) => err), new Promise<null>((r) => setTimeout(() => r(null), 100))]);
        c.destroy();
        lastFailure = cause ?? new ChunkswarmError('E_UNREACHABLE', 'the connection to the join service closed during its handshake');
        await new Promise((r) => setTimeout(r, Math.min(2000, 250 * attempt)));
      }
      throw lastFailure;
    })();
    exchange.catch(() => undefined);
    let raw: unknown;
    try {
      raw = await Promise.race([exchange, deadline]);
    } catch (err) {
      if (isChunkswarmError(err) && err.code !== 'E_CLOSED' && err.code !== 'E_TIMEOUT' && err.code !== 'E_UNREACHABLE') throw err;
      throw unreachable(await reachable, o.token.bootstrap, joinKey, err);
    }
    return check(raw, o);
  } finally {
    settled = true;
    watch.stop();
    if (timer) clearTimeout(timer);
    (conn as HyperDHT.NoiseSecretStream | null)?.destroy();
    await dht.destroy({ force: true }).catch(() => undefined);
  }
}

function check(raw: unknown, o: RedeemOptions): Redeemed {
  const parsed = joinAnswerSchema.safeParse(raw);
  if (!parsed.success) throw new ChunkswarmError('E_PROTOCOL', "the publisher's join service sent a malformed answer: is it running the same chunkswarm version?");
  const a = parsed.data;
  if (!a.ok) {
    const code = (JOIN_REFUSALS as readonly string[]).includes(a.code) || a.code === 'E_PROTOCOL' || a.code === 'E_IO' ? (a.code as ErrorCode) : 'E_PROTOCOL';
    throw new ChunkswarmError(code, `the publisher refused: ${a.message}`);
  }
  const self = o.keyPair.publicKey.toString('hex');
  let membership: MembershipRecord | null = null;
  if (a.membership !== null) {
    try {
      membership = decodeMembership(a.membership, o.token.publisherKey);
    } catch (err) {
      if (isChunkswarmError(err, 'E_WRONG_CLUSTER') || isChunkswarmError(err, 'E_BAD_SIGNATURE')) {
        throw new ChunkswarmError('E_WRONG_CLUSTER', `the join service answered for another cluster than the token's (${err.message}): the token was altered or mixes two clusters`);
      }
      throw err;
    }
    if (!membership.body.members.some((m) => m.key === self)) throw new ChunkswarmError('E_PROTOCOL', "the publisher's membership record does not list this node");
  } else if (a.enforced) {
    throw new ChunkswarmError('E_PROTOCOL', 'the publisher enforces a membership but sent none');
  }
  return { clusterSecret: new Uint8Array(Buffer.from(a.clusterSecret, 'hex')), membership, enforced: a.enforced };
}

/** Tells "no bootstrap node answers" from "the join service is not on the DHT". */
function unreachable(bootstrapAnswers: boolean, bootstrap: string[], joinKey: string, cause: unknown): ChunkswarmError {
  if (!bootstrapAnswers) {
    return new ChunkswarmError('E_UNREACHABLE', `no bootstrap node of the token answers (${bootstrap.join(', ')}): check that this machine reaches them (UDP) and that the master runs "chunkswarm serve"`, { cause });
  }
  const why = (cause as Error)?.message ?? String(cause);
  return new ChunkswarmError(
    'E_UNREACHABLE',
    `the bootstrap node answers, but the publisher's join service (key ${joinKey.slice(0, 16)}) could not be reached (${why}): is "chunkswarm serve" running on the master?`,
    { cause },
  );
}
