/**
 * The direct TCP path between nodes. Fault: TCP is refused between the publisher and one follower
 * (each one's net guard refuses the other's port, as a firewall would); the rollout completes,
 * that pair over the hyperswarm fallback, the others over TCP. Bad input: callers of a node's
 * TCP port that lack the cluster secret, replay another connection's proof or stay silent get no
 * byte, and are counted.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import NoiseSecretStream from '@hyperswarm/secret-stream';
import HyperDHT from 'hyperdht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../bench/lib/cluster.js';
import { freeTcpPort } from '../../bench/lib/ports.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { loadConfig, readClusterSecret } from '../../src/config/index.js';
import { authMac, encodeAuthFrame } from '../../src/swarm/index.js';
import { NET_GUARD_REFUSE_ENV } from '../support/net-guard-report.js';
import { editConfig, sumBytesLost } from './harness.js';
import { declareCases } from './record.js';

let dir: string;
let cluster: LocalCluster;
const ports: Record<string, number> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-fault-direct-'));
  cluster = await LocalCluster.create({ dir, followers: 2, netGuard: true, extra: { verify: { intervalSec: 0 } } });
  const [pub, f1] = [cluster.publisher, cluster.followers[0]!];
  for (const n of [pub, f1]) {
    ports[n.name] = await freeTcpPort();
    await editConfig(n, (c) => { c.network.port = ports[n.name]; });
  }
  cluster.start(pub, [], { [NET_GUARD_REFUSE_ENV]: `127.0.0.1:${ports[f1.name]}` });
  cluster.start(f1, [], { [NET_GUARD_REFUSE_ENV]: `127.0.0.1:${ports[pub.name]}` });
  cluster.start(cluster.followers[1]!);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the direct TCP path', () => {
  it('falls back to hyperswarm where TCP is refused, and the rollout completes', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: '8 direct TCP path refused between two nodes', tried: 1 });
    const [pub, f1, f2] = [cluster.publisher, cluster.followers[0]!, cluster.followers[1]!];
    await cluster.waitFor('every node to meet every other', async () => {
      const all = await Promise.all(cluster.nodes.map((n) => cluster.status(n)));
      return all.every((s) => (s?.peers.filter((p) => p.connected).length ?? 0) === 2);
    });
    const source = join(dir, 'source');
    await generateTree(source, { bytes: 8 * 1024 * 1024, files: 20, perDir: 10, seed: 81 });
    await cluster.publish(source);
    await cluster.waitLive([f1, f2], 1, 90_000);
    meta.bytesLost = await sumBytesLost(source, [f1, f2]);
    expect(meta.bytesLost).toBe(0);

    const path = async (from: typeof pub, to: typeof pub) => {
      const key = (await cluster.status(to))!.node;
      return (await cluster.status(from))!.peers.find((p) => p.key === key && p.connected)?.path;
    };
    expect(await path(pub, f1)).toBe('hyperswarm');
    expect(await path(f1, pub)).toBe('hyperswarm');
    for (const [a, b] of [[pub, f2], [f1, f2], [f2, pub]] as const) expect(await path(a, b)).toBe('tcp');
    const f1Got = (await cluster.status(f1))!.bytesDown;
    meta.notes = [`follower-1 received ${(f1Got / 1e6).toFixed(1)} MB, the publisher's share over hyperswarm`];
    for (const n of cluster.nodes) expect((JSON.parse(await readFile(n.guardReport, 'utf8')) as { nonLoopback: unknown[] }).nonLoopback).toEqual([]);
  }, 120_000);

  it('gives a caller without the secret, replaying another connection\'s proof or silent, not one byte', async (ctx) => {
    declareCases(ctx, { kind: 'bad-input', group: 'peers (direct TCP path)', tried: 3 });
    const pub = cluster.publisher;
    const secret = await readClusterSecret((await loadConfig(pub.config)).cluster.secretFile);
    const before = (await cluster.status(pub))!.swarm;
    const caller = HyperDHT.keyPair();
    // A proof that was valid on another connection (its handshake hash), for a key the caller holds.
    const replayed = encodeAuthFrame(authMac(secret, Buffer.alloc(64, 7), caller.publicKey));
    const attempts: Array<[string, ((c: NoiseSecretStream) => Buffer) | null]> = [
      ['no secret', (c) => encodeAuthFrame(authMac(Buffer.alloc(32, 1), c.handshakeHash!, c.publicKey))],
      ['replayed proof', () => replayed],
      ['silence', null],
    ];
    for (const [what, proof] of attempts) {
      const conn = new NoiseSecretStream(true, net.connect({ host: '127.0.0.1', port: ports[pub.name]! }), { keyPair: caller });
      conn.on('error', () => undefined);
      let bytes = 0;
      conn.on('data', (d: Buffer) => { bytes += d.byteLength; });
      const closed = new Promise((resolve) => conn.once('close', resolve));
      expect(await conn.opened, what).toBe(true);
      if (proof) conn.write(Buffer.concat([proof(conn), Buffer.alloc(16)]));
      await closed; // the node hangs up: at once on a bad proof, after its auth timeout on silence
      expect(bytes, what).toBe(0);
    }
    await cluster.waitFor('the node to count the three', async () => {
      const s = (await cluster.status(pub))!.swarm;
      return s.authFailures! - before.authFailures! === 3 && s.authTimeouts! - before.authTimeouts! === 1;
    }, 10_000);
  }, 60_000);
});
