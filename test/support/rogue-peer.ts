/**
 * A malicious cluster member for integration tests: it knows the cluster secret (so it passes
 * authentication) and misbehaves on the wire. Run the compiled file as a child process:
 *   node dist/test/support/rogue-peer.js <swarm.config.json of a real node> <mode> [seconds]
 * Modes:
 * - forged-heads: gossips a release signed by another key and one with a broken signature.
 * It prints one JSON line per event to stdout and exits after `seconds` (default 20).
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, readClusterSecret } from '../../src/config/index.js';
import { clusterIdOf, encodeSignedRelease, generatePublisherKeys, signRelease, type ReleaseBody } from '../../src/manifest/index.js';
import type { ObjectHash } from '../../src/core/index.js';
import { Swarm } from '../../src/swarm/index.js';
import { Bitfield, PeerWire, wirePeerId } from '../../src/wire/index.js';

const [configPath, mode = 'forged-heads', seconds = '20'] = process.argv.slice(2);
const config = await loadConfig(configPath!);
const clusterKey = Buffer.from(config.cluster.publisherKey, 'hex');
const clusterId = clusterIdOf(clusterKey);
const say = (event: Record<string, unknown>) => process.stdout.write(JSON.stringify(event) + '\n');

function forgedHeads(): Uint8Array[] {
  const body = (version: number): ReleaseBody => ({
    kind: 'release', cluster: clusterId, version, root: randomBytes(32).toString('hex') as ObjectHash,
    parent: null, created: Date.now(), note: 'forged',
  });
  const other = generatePublisherKeys();
  // Signed by another key, claiming this cluster.
  const otherKey = signRelease({ ...body(1000), cluster: clusterIdOf(other.publicKey) }, other.privateKeyPem, other.publicKey);
  const wrongCluster = { ...otherKey, body: { ...otherKey.body, cluster: clusterId } };
  // The cluster's own public key, but a signature that is not the publisher's.
  const badSignature = { ...otherKey, body: body(1001), publicKey: clusterKey };
  return [encodeSignedRelease(wrongCluster), encodeSignedRelease(badSignature)];
}

const swarm = new Swarm({
  clusterSecret: await readClusterSecret(config.cluster.secretFile),
  bootstrap: config.bootstrapNodes,
  host: '127.0.0.1',
});
swarm.on('peer', (peer) => {
  const wire = new PeerWire({
    stream: peer.stream,
    clusterId,
    peerId: wirePeerId(Buffer.from(swarm.publicKey, 'hex')),
    store: { getObject: async () => null, readPiece: async () => null },
    limits: { maxMessageBytes: 1 << 20, maxOutstandingRequestsFromPeer: 64, requestTimeoutMs: 10_000 },
  });
  wire.on('ready', () => {
    say({ event: 'connected', peer: peer.publicKey });
    if (mode === 'forged-heads') for (const h of forgedHeads()) wire.sendHead(h);
    wire.setSpace(randomBytes(32).toString('hex') as never, new Bitfield(0));
  });
  wire.on('close', () => say({ event: 'closed', peer: peer.publicKey }));
});
await swarm.ready();
say({ event: 'ready', key: swarm.publicKey });
setTimeout(() => {
  void swarm.close().then(() => process.exit(0));
}, Number(seconds) * 1000);
