import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import NoiseSecretStream from '@hyperswarm/secret-stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import HyperDHT from 'hyperdht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isChunkswarmError } from '../../src/core/index.js';
import { authMac, AUTH_FRAME_BYTES, deriveTopic, encodeAuthFrame, startBootstrapNode, Swarm, type BootstrapNode, type Peer } from '../../src/swarm/index.js';
import { ChildNode, waitFor } from '../support/swarm-fixture.js';

describe('swarm across processes', () => {
  let bootstrap: BootstrapNode;
  let dir: string;
  const children: ChildNode[] = [];

  beforeAll(async () => {
    bootstrap = await startBootstrapNode();
    dir = mkdtempSync(join(tmpdir(), 'chunkswarm-swarm-'));
  });

  afterAll(async () => {
    for (const child of children) child.kill();
    await bootstrap?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates members only, honours the allowlist and never leaves loopback', async () => {
    const secret = randomBytes(32);
    const seeds = { a: randomBytes(32), b: randomBytes(32), c: randomBytes(32), d: randomBytes(32) };
    const key = (seed: Buffer): string => HyperDHT.keyPair(seed).publicKey.toString('hex');
    const [a, b, c, d] = [key(seeds.a), key(seeds.b), key(seeds.c), key(seeds.d)];
    const common = { secret: secret.toString('hex'), bootstrap: [{ host: bootstrap.host, port: bootstrap.port }], authTimeoutMs: 1500 };
    const start = (config: ConstructorParameters<typeof ChildNode>[0]): ChildNode => {
      const child = new ChildNode(config, join(dir, `${config.name}.net.json`));
      children.push(child);
      return child;
    };

    // A publishes first and only accepts B; C is a member A does not know; D knows the topic but
    // not the secret: bad proof to B, silence to C.
    const nodeA = start({ mode: 'member', name: 'A', seed: seeds.a.toString('hex'), allowlist: [b], ...common });
    expect(await nodeA.ready).toBe(a);
    const nodeB = start({ mode: 'member', name: 'B', seed: seeds.b.toString('hex'), ...common });
    const nodeC = start({ mode: 'member', name: 'C', seed: seeds.c.toString('hex'), ...common });
    const nodeD = start({
      mode: 'intruder',
      name: 'D',
      seed: seeds.d.toString('hex'),
      wrongSecret: randomBytes(32).toString('hex'),
      topic: deriveTopic(secret).toString('hex'),
      bootstrap: common.bootstrap,
      silentTo: [c],
    });
    await Promise.all([nodeB.ready, nodeC.ready, nodeD.ready]);

    const heard = (node: ChildNode, from: string, name: string): boolean =>
      node.messages.some((m) => m.from === from && m.text === `hello from ${name}`);
    const states = () => Promise.all([nodeA.state(), nodeB.state(), nodeC.state(), nodeD.state()]);
    await waitFor(
      async () => {
        const [sa, sb, sc, sd] = await states();
        return (
          heard(nodeA, b, 'B') && heard(nodeB, a, 'A') && heard(nodeB, c, 'C') && heard(nodeC, b, 'B') &&
          sa.stats!.rejectedAllowlist > 0 && sb.stats!.authFailures > 0 && sc.stats!.authTimeouts > 0 &&
          sd.intruder!.connections >= 2
        );
      },
      30_000,
      async () => JSON.stringify({ states: await states(), messages: children.map((n) => n.messages) }),
    );

    const [sa, sb, sc, sd] = await states();
    expect(sa.peers).toEqual([b]);
    expect(new Set(sb.peers)).toEqual(new Set([a, c]));
    expect(sc.peers).toEqual([b]);
    for (const node of [nodeA, nodeB, nodeC]) expect(node.messages.map((m) => m.from)).not.toContain(d);
    expect(nodeA.messages.map((m) => m.from)).not.toContain(c);
    expect(sd.intruder!.verified).toBe(0);
    // All the intruder ever got was members' auth frames: no application byte.
    expect(sd.intruder!.maxBytesOnConnection).toBeLessThanOrEqual(AUTH_FRAME_BYTES);

    await Promise.all(children.map((n) => n.close()));
    for (const node of children) {
      const report = node.guardReport();
      expect(report.loopback.length).toBeGreaterThan(0); // the guard was really loaded
      expect(report.nonLoopback).toEqual([]);
    }
  });

  it('names a refused key while the allowlist does not hold it, and forgets it once it does', async () => {
    const secret = randomBytes(32);
    const a = new Swarm({ clusterSecret: secret, bootstrap: [bootstrap], allowlist: [] });
    const b = new Swarm({ clusterSecret: secret, bootstrap: [bootstrap] });
    try {
      await a.ready();
      await b.ready();
      await waitFor(async () => a.refusedNow().length > 0, 20_000, async () => JSON.stringify(a.stats()));
      expect(a.refusedNow()).toEqual([b.publicKey]);
      a.setAllowlist([randomBytes(32).toString('hex')]);
      expect(a.refusedNow()).toEqual([b.publicKey]);
      a.setAllowlist([b.publicKey]);
      expect(a.refusedNow()).toEqual([]);
      expect(a.stats().rejectedAllowlist).toBeGreaterThan(0); // the count since start stays
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('reports a peer that leaves, and ready()/close() are safe to call twice', async () => {
    const secret = randomBytes(32);
    const a = new Swarm({ clusterSecret: secret, bootstrap: [bootstrap] });
    const b = new Swarm({ clusterSecret: secret, bootstrap: [bootstrap] });
    const peerAtB = new Promise<Peer>((resolve) => b.on('peer', resolve));
    await Promise.all([a.ready(), a.ready()]);
    await b.ready();
    const peer = await peerAtB;
    expect(peer.publicKey).toBe(a.publicKey);
    expect(b.peers).toEqual([peer]);
    // Not hyperdht's default, 49737-49741: the DHT bootstrap node's port (a master restarted
    // beside its frontends on one machine found its port taken by one of theirs).
    for (const s of [a, b]) expect(s.dht!.address().port).not.toSatisfy((p: number) => p >= 49737 && p <= 49741);

    const left = new Promise<Peer>((resolve) => b.on('peer-closed', resolve));
    await Promise.all([a.close(), a.close()]);
    expect(await left).toBe(peer);
    expect(b.peers).toEqual([]);
    expect(b.stats().authenticated).toBe(0);
    await b.close();
    await b.close();
  });

  it('paces peer streams by the configured limits', async () => {
    const secret = randomBytes(32);
    const a = new Swarm({ clusterSecret: secret, bootstrap: [bootstrap], limits: { uploadBytesPerSec: 2_000_000 } });
    const b = new Swarm({ clusterSecret: secret, bootstrap: [bootstrap] });
    const peerAtA = new Promise<Peer>((resolve) => a.on('peer', resolve));
    const peerAtB = new Promise<Peer>((resolve) => b.on('peer', resolve));
    await a.ready();
    await b.ready();
    const [sender, receiver] = await Promise.all([peerAtA, peerAtB]);
    let received = 0;
    const all = new Promise<void>((resolve) => receiver.stream.on('data', (c: Buffer) => {
      received += c.byteLength;
      if (received === 3_000_000) resolve();
    }));
    const started = performance.now();
    sender.stream.write(Buffer.alloc(3_000_000));
    await all;
    const seconds = (performance.now() - started) / 1000;
    // 3 MB at 2 MB/s, less the bucket's burst (100 ms of the rate) if it filled before the write:
    // never faster than the limit; slower only by what a busy machine costs.
    expect(seconds).toBeGreaterThan(1.35);
    expect(seconds).toBeLessThan(6);
    await Promise.all([a.close(), b.close()]);
  });

  it('moves peers onto the direct TCP path, still paced by the configured limits', async () => {
    const secret = randomBytes(32);
    const a = new Swarm({ clusterSecret: secret, bootstrap: [bootstrap], directPort: 0, limits: { uploadBytesPerSec: 2_000_000 } });
    const b = new Swarm({ clusterSecret: secret, bootstrap: [bootstrap], directPort: 0 });
    const peerAtA = new Promise<Peer>((resolve) => a.on('peer', resolve));
    const peerAtB = new Promise<Peer>((resolve) => b.on('peer', resolve));
    await a.ready();
    await b.ready();
    const [sender, receiver] = await Promise.all([peerAtA, peerAtB]);
    expect([sender.path, receiver.path]).toEqual(['tcp', 'tcp']);
    expect(a.stats().direct).toBe(1);
    let received = 0;
    const all = new Promise<void>((resolve) => receiver.stream.on('data', (c: Buffer) => {
      received += c.byteLength;
      if (received === 3_000_000) resolve();
    }));
    const started = performance.now();
    sender.stream.write(Buffer.alloc(3_000_000));
    await all;
    // 3 MB at 2 MB/s, less the bucket's burst: never faster than the limit.
    expect((performance.now() - started) / 1000).toBeGreaterThan(1.35);
    const closed = new Promise<Peer>((resolve) => b.on('peer-closed', resolve));
    sender.stream.destroy();
    expect(await closed).toBe(receiver);
    await Promise.all([a.close(), b.close()]);
  });

  it('gives a TCP caller without the secret, or replaying another connection\'s proof, not one byte', async () => {
    const secret = randomBytes(32);
    const a = new Swarm({ clusterSecret: secret, bootstrap: [bootstrap], directPort: 0, authTimeoutMs: 1000 });
    await a.ready();
    expect(a.lastAuthFailureAt).toBeNull();
    const started = Date.now();
    const member = HyperDHT.keyPair();
    // A proof that was valid on another connection (its handshake hash), by a key the caller holds.
    const replayed = encodeAuthFrame(authMac(secret, randomBytes(64), member.publicKey));
    const attempts = { 'wrong secret': (c: NoiseSecretStream) => encodeAuthFrame(authMac(randomBytes(32), c.handshakeHash!, c.publicKey)), replay: () => replayed, silence: null };
    for (const [what, proof] of Object.entries(attempts)) {
      const socket = net.connect({ host: '127.0.0.1', port: a.directPort! });
      const conn = new NoiseSecretStream(true, socket, { keyPair: member });
      conn.on('error', () => undefined);
      let bytes = 0;
      conn.on('data', (d: Buffer) => { bytes += d.byteLength; });
      const closed = new Promise((resolve) => conn.once('close', resolve));
      expect(await conn.opened, what).toBe(true);
      if (proof) conn.write(Buffer.concat([proof(conn), randomBytes(16)]));
      await closed;
      expect(bytes, what).toBe(0);
    }
    expect(a.stats()).toMatchObject({ authFailures: 3, authTimeouts: 1, authenticated: 0 });
    expect(a.lastAuthFailureAt).toBeGreaterThanOrEqual(started);
    await a.close();
  });

  it('rejects malformed options with E_CONFIG', () => {
    const good = { clusterSecret: randomBytes(32), bootstrap: [{ host: '127.0.0.1', port: 1 }] };
    const bad = [
      { ...good, clusterSecret: randomBytes(16) },
      { ...good, keySeed: randomBytes(5) },
      { ...good, allowlist: ['not-a-key'] },
      { ...good, server: false, client: false },
      { ...good, bootstrap: [{ host: '127.0.0.1', port: 0 }] },
    ];
    for (const opts of bad) {
      let caught: unknown;
      try {
        new Swarm(opts);
      } catch (err) {
        caught = err;
      }
      expect(isChunkswarmError(caught, 'E_CONFIG')).toBe(true);
    }
  });

  it('refuses to start without a bootstrap node instead of using the public DHT', () => {
    let caught: unknown;
    try {
      new Swarm({ clusterSecret: randomBytes(32), bootstrap: [] });
    } catch (err) {
      caught = err;
    }
    expect(isChunkswarmError(caught, 'E_NO_BOOTSTRAP')).toBe(true);
    expect((caught as Error).message).toMatch(/bootstrap/);
  });
});
