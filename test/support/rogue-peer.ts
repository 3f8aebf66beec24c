/**
 * A malicious cluster member for integration tests: it knows the cluster secret (so it passes
 * authentication) and misbehaves on the wire. Run the compiled file as a child process:
 *   node dist/test/support/rogue-peer.js <swarm.config.json of a real node> <mode> [seconds]
 * Modes:
 * - forged-heads: gossips a release signed by another key and one with a broken signature.
 * - corrupt-chunks: claims every piece of each peer's current release and serves wrong bytes.
 * - lying-bitfield: claims every piece and declines every request for one (BEP-6 reject).
 * - stall: claims every piece and never answers a request.
 * - flood: asks every peer for every piece of its release as fast as the connection takes the
 *   requests, whether choked or not (bench/flood.ts). Piece sizes come from the release objects in
 *   the given config's data directory, so give it the publisher's config.
 * It prints one JSON line per event to stdout and exits after `seconds` (default 20).
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, readClusterSecret } from '../../src/config/index.js';
import { clusterIdOf, encodeSignedRelease, generatePublisherKeys, releaseId, releasePieces, signRelease, type Piece, type ReleaseBody } from '../../src/manifest/index.js';
import { Bitfield, type ObjectHash, type ReleaseId } from '../../src/core/index.js';
import { ObjectStore, ReleaseStore } from '../../src/store/index.js';
import { Swarm } from '../../src/swarm/index.js';
import { PeerWire, wirePeerId, type SpaceInfo } from '../../src/wire/index.js';

const MODES = ['forged-heads', 'corrupt-chunks', 'lying-bitfield', 'stall', 'flood'] as const;
type Mode = (typeof MODES)[number];

const [configPath, modeArg = 'forged-heads', seconds = '20'] = process.argv.slice(2);
if (!MODES.includes(modeArg as Mode)) throw new Error(`unknown mode ${modeArg}; one of ${MODES.join(', ')}`);
const mode = modeArg as Mode;
const config = await loadConfig(configPath!);
const clusterKey = Buffer.from(config.cluster.publisherKey, 'hex');
const clusterId = clusterIdOf(clusterKey);
const say = (event: Record<string, unknown>) => process.stdout.write(JSON.stringify(event) + '\n');
/** A lie about holding every piece needs the pieces to be requested: those modes unchoke everyone. */
const claimsAll = mode === 'corrupt-chunks' || mode === 'lying-bitfield' || mode === 'stall';
const served = { corrupt: 0, declined: 0, stalled: 0, floodRequests: 0, floodBytesReceived: 0 };

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

/** Piece lists of the releases in the config's data directory, by release id (flood mode). */
const pieceLists = new Map<ReleaseId, readonly Piece[]>();
async function piecesOf(release: ReleaseId): Promise<readonly Piece[] | null> {
  if (pieceLists.has(release)) return pieceLists.get(release)!;
  const releases = new ReleaseStore(config.dataDir);
  const objects = new ObjectStore(releases.objectsDir);
  for (const v of await releases.versions().catch(() => [])) {
    const head = await releases.head(v);
    if (releaseId(head.body) !== release) continue;
    const pieces = await releasePieces(head.body.root, (h) => objects.getTree(h), (h) => objects.getFile(h));
    pieceLists.set(release, pieces);
    return pieces;
  }
  return null;
}

/** The library's own wire under PeerWire: a flooder writes raw requests that PeerWire would refuse to send. */
interface RawWire {
  _message(id: number, numbers: number[], data: null): void;
  /** streamx: bytes queued on the readable side, not yet taken by the connection. */
  _readableState: { buffered: number };
  on(event: 'download', listener: (bytes: number) => void): void;
}
const REQUEST = 6;

/** Requests every piece of the peer's space, round after round, while the connection takes them. */
function flood(wire: PeerWire, space: SpaceInfo): void {
  const raw = (wire as unknown as { wire: RawWire }).wire;
  void piecesOf(space.release).then((pieces) => {
    if (!pieces) return say({ event: 'flood-unknown-release', release: space.release });
    let next = 0;
    const burst = () => {
      if (wire.closed || wire.remoteSpace?.release !== space.release) return;
      // Only the socket's own backpressure slows the flood down.
      for (let k = 0; k < 256 && raw._readableState.buffered < 1 << 20; k++, next = (next + 1) % pieces.length) {
        raw._message(REQUEST, [next, 0, pieces[next]!.size], null);
        served.floodRequests++;
      }
      setImmediate(burst);
    };
    burst();
  });
}

const swarm = new Swarm({
  clusterSecret: await readClusterSecret(config.cluster.secretFile),
  bootstrap: config.bootstrapNodes,
  host: '127.0.0.1',
});
swarm.on('peer', (peer) => {
  // Piece sizes as the requester asked for them: the gate sees the length, the store does not.
  const asked = new Map<number, number>();
  let flooding: ReleaseId | null = null;
  const wire: PeerWire = new PeerWire({
    stream: peer.stream,
    clusterId,
    peerId: wirePeerId(Buffer.from(swarm.publicKey, 'hex')),
    limits: {
      maxMessageBytes: 16 << 20,
      // A staller keeps every request; the others stay within what honest nodes ask of them.
      maxOutstandingRequestsFromPeer: mode === 'stall' ? 1 << 20 : 64,
      requestTimeoutMs: 10_000,
    },
    model: {
      getObject: async () => null,
      readPiece: async (_space, index) => {
        if (mode === 'corrupt-chunks') {
          served.corrupt++;
          return randomBytes(asked.get(index) ?? 1);
        }
        served.declined++;
        return null;
      },
      allowUpload: (index, bytes) => {
        asked.set(index, bytes);
        if (mode !== 'stall') return true;
        served.stalled++;
        return new Promise<boolean>(() => undefined);
      },
      ready: () => {
        say({ event: 'connected', peer: peer.publicKey });
        if (mode === 'forged-heads') for (const h of forgedHeads()) wire.sendHead(h);
        if (claimsAll) wire.unchoke();
        if (mode === 'flood') wire.interested();
        if (!wire.localSpace) wire.setSpace(randomBytes(32).toString('hex') as ReleaseId, new Bitfield(0));
      },
      // Mirror the peer's release: claim all of it (liars) or none of it (the flooder wants it all).
      space: (space) => {
        if (claimsAll) wire.setSpace(space.release, Bitfield.full(space.pieceCount));
        if (mode === 'flood' && space.pieceCount > 0 && flooding !== space.release) {
          flooding = space.release;
          wire.setSpace(space.release, new Bitfield(space.pieceCount));
          flood(wire, space);
        }
      },
      closed: () => say({ event: 'closed', peer: peer.publicKey }),
      head: () => undefined,
      have: () => undefined,
      status: () => undefined,
      choked: () => undefined,
      unchokers: () => undefined,
      interested: () => undefined,
      badPiece: () => undefined,
      abuse: () => undefined,
      error: () => undefined,
    },
  });
  (wire as unknown as { wire: RawWire }).wire.on('download', (bytes) => (served.floodBytesReceived += bytes));
});
await swarm.ready();
say({ event: 'ready', key: swarm.publicKey, mode });
const timer = setInterval(() => say({ event: 'stats', ...served }), 2000);
setTimeout(() => {
  clearInterval(timer);
  say({ event: 'stats', ...served });
  void swarm.close().then(() => process.exit(0));
}, Number(seconds) * 1000);
