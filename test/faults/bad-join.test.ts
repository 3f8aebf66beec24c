/**
 * Bad input, joining: every way a join token can be wrong (expired, revoked, used up, truncated,
 * forged, for another cluster) and a target that is already a node. Each is a coded error naming
 * the cause, and `join` leaves nothing behind: no node directory, no temporary one, and an
 * invitation spent only by a join that succeeded.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../bench/lib/cluster.js';
import { cli } from '../../bench/lib/run.js';
import { decodeToken, encodeToken } from '../../src/membership/index.js';
import { runCli } from '../support/cli.js';
import { sleep } from './harness.js';
import { declareCases } from './record.js';

let dir: string;
let cluster: LocalCluster;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-bad-join-'));
  cluster = await LocalCluster.create({ dir, followers: 0, membership: true });
  cluster.start(cluster.publisher);
  // Its join service listens once the node has joined the swarm, before its first status report.
  await cluster.waitFor('the publisher to run', async () => (await cluster.status(cluster.publisher)) !== null);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

const pub = () => ['-c', cluster.publisher.config];
const newToken = async (...args: string[]) => (await cli([...pub(), 'token', 'create', ...args])).stdout.trim();
const reencode = (token: string, patch: Partial<ReturnType<typeof decodeToken>>) => encodeToken({ ...decodeToken(token), ...patch });
const nodes = () => join(dir, 'nodes');

interface Outcome {
  code: string | null;
  exit: number;
  message: string;
  /** Entries left in the parent directory that were not there before. */
  leftovers: string[];
}

/** Runs `join` into nodes/<name> and reports what it said and what it left. */
async function tryJoin(token: string, name: string, extra: string[] = []): Promise<Outcome> {
  const before = new Set(await readdir(nodes()));
  const r = await runCli(['join', token, '--dir', join(nodes(), name), '--live', join(nodes(), `${name}.live`), ...extra]);
  const after = await readdir(nodes());
  return {
    code: /chunkswarm: (E_[A-Z_]+):/.exec(r.stderr)?.[1] ?? null,
    exit: r.code,
    message: r.stderr.trim(),
    leftovers: after.filter((e) => !before.has(e)),
  };
}

describe('bad input: join tokens', () => {
  it('each bad token or target is a coded error naming the cause, with nothing half-written', async (ctx) => {
    await mkdir(nodes(), { recursive: true });
    const table: Array<[string, () => Promise<Outcome>, string, RegExp]> = [];
    const good = await newToken('--uses', '1');
    const expiring = await newToken('--ttl', '1s');
    const revoked = await newToken();
    const id = (JSON.parse((await cli([...pub(), 'token', 'list', '--json'])).stdout) as Array<{ id: string }>).at(-1)!.id;
    await cli([...pub(), 'token', 'revoke', id]);
    const other = join(dir, 'other-cluster');
    await cli(['init', '--publisher', '--dir', other]);
    const otherKey = (JSON.parse(await readFile(join(other, 'swarm.config.json'), 'utf8')) as { cluster: { publisherKey: string } }).cluster.publisherKey;
    const spare = await newToken();

    table.push(
      ['truncated', () => tryJoin(good.slice(0, Math.floor(good.length * 0.8)), 'truncated'), 'E_TOKEN', /truncated/],
      ['altered (one character)', () => tryJoin(good.slice(0, 20) + (good[20] === 'A' ? 'B' : 'A') + good.slice(21), 'altered'), 'E_TOKEN', /checksum/],
      ['not a token', () => tryJoin('hello', 'garbage'), 'E_TOKEN', /must start with/],
      ['forged (a well-formed token with a secret the publisher never made)', () => tryJoin(reencode(good, { secret: randomBytes(16) }), 'forged'), 'E_TOKEN_UNKNOWN', /no invitation/],
      ['for another cluster (its publisher key, this join service)', () => tryJoin(reencode(spare, { publisherKey: Buffer.from(otherKey, 'hex') }), 'other'), 'E_WRONG_CLUSTER', /another|cluster/],
      // Into an empty directory that exists (made by the operator): it stays, and stays empty.
      ['revoked', async () => (await mkdir(join(nodes(), 'revoked')), tryJoin(revoked, 'revoked')), 'E_TOKEN_REVOKED', /revoked/],
      ['expired (seen by the joining node)', async () => (await sleep(1200), tryJoin(expiring, 'expired')), 'E_TOKEN_EXPIRED', /expired/],
      ['expired (its date pushed back: the publisher refuses)', () => tryJoin(reencode(expiring, { expires: 4_000_000_000 }), 'expired-2'), 'E_TOKEN_EXPIRED', /expired/],
    );
    const meta = declareCases(ctx, { kind: 'bad-input', group: 'join tokens and targets', tried: table.length + 5 });
    const wrong: string[] = [];
    for (const [what, run, code, words] of table) {
      const o = await run();
      if (o.code !== code || o.exit !== 5 || !words.test(o.message) || o.leftovers.length > 0) wrong.push(`${what}: ${JSON.stringify(o)}`);
    }
    expect(await readdir(join(nodes(), 'revoked'))).toEqual([]);

    // Used: the first join spends the token, the second is refused.
    const first = await tryJoin(good, 'first');
    expect(first.exit, first.message).toBe(0);
    const reused = await tryJoin(good, 'reused');
    if (reused.code !== 'E_TOKEN_USED' || reused.exit !== 5 || reused.leftovers.length > 0) wrong.push(`reused: ${JSON.stringify(reused)}`);

    // Targets: a node already there, or a directory with other things in it; the token is not spent.
    const config = await readFile(join(nodes(), 'first', 'swarm.config.json'), 'utf8');
    const existing = await tryJoin(spare, 'first');
    if (existing.code !== 'E_EXISTS' || existing.exit !== 2 || !/already exists/.test(existing.message) || existing.leftovers.length > 0) wrong.push(`existing config: ${JSON.stringify(existing)}`);
    expect(await readFile(join(nodes(), 'first', 'swarm.config.json'), 'utf8')).toBe(config);
    await mkdir(join(nodes(), 'busy'));
    await writeFile(join(nodes(), 'busy', 'notes.txt'), 'mine\n');
    const busy = await tryJoin(spare, 'busy');
    if (busy.code !== 'E_EXISTS' || !/not empty/.test(busy.message) || (await readdir(join(nodes(), 'busy'))).length !== 1) wrong.push(`non-empty directory: ${JSON.stringify(busy)}`);

    // A data directory whose control socket path would be too long: serve could never start there.
    const longData = join(dir, 'd'.repeat(110));
    const long = await tryJoin(spare, 'long', ['--data-dir', longData]);
    if (long.code !== 'E_USAGE' || long.exit !== 2 || !/too long for the control socket/.test(long.message) || long.leftovers.length > 0 || existsSync(longData)) {
      wrong.push(`data directory too long: ${JSON.stringify(long)}`);
    }

    // The refusals above spent nothing: the spare token still works, also into an empty directory.
    const list = JSON.parse((await cli([...pub(), 'token', 'list', '--json'])).stdout) as Array<{ state: string }>;
    expect(list.map((i) => i.state)).toEqual(['used', 'expired', 'revoked', 'active']);
    await mkdir(join(nodes(), 'empty'));
    await mkdir(join(nodes(), 'empty-data'));
    const ok = await tryJoin(spare, 'empty', ['--data-dir', join(nodes(), 'empty-data')]);
    expect(ok.exit, ok.message).toBe(0);
    expect((await readdir(join(nodes(), 'empty'))).sort()).toEqual(['cluster.secret', 'swarm.config.json']);
    expect((await readdir(join(nodes(), 'empty-data'))).sort()).toEqual(['membership.json', 'node.seed']);

    // The publisher down: the join service is unreachable, said as such.
    await cluster.stop(cluster.publisher);
    const down = await tryJoin(await newToken(), 'down', ['--timeout', '5s']);
    if (down.code !== 'E_UNREACHABLE' || down.exit !== 13 || down.leftovers.length > 0) wrong.push(`publisher down: ${JSON.stringify(down)}`);
    meta.notes = [`${table.length + 5} cases: ${table.map((t) => t[0]).join('; ')}; reused; existing config; non-empty directory; data directory too long; publisher down`];
    expect(wrong).toEqual([]);
  }, 90_000);
});
