import { z } from 'zod';
import { DEFAULT_DATA_DIR } from './paths.js';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
const hostPort = z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be "host:port"');
const bytesPerSec = z.number().int().min(0);
const hookCommand = z.string().min(1).nullable();

/** network.host unless set: every socket on loopback. */
export const DEFAULT_HOST = '127.0.0.1';
/** The TCP port of a node's direct path unless its config says otherwise (network.port). */
export const DEFAULT_DIRECT_PORT = 49738;

/**
 * swarm.config.json. Secrets never live here: the cluster secret and the publisher's private key
 * are separate 0600 files that the config points at.
 */
export const configSchema = z
  .object({
    dataDir: z.string().min(1).default(DEFAULT_DATA_DIR),
    /** How this node is named in logs, status and the fleet view; null: the host name. */
    node: z.strictObject({ name: z.string().min(1).max(64).nullable().default(null) }).prefault({}),
    livePath: z.string().min(1).default('./live'),
    /**
     * What already stands at livePath (a real directory, say the tree rsync kept up to date, or a
     * symlink elsewhere) is taken over by the first activation instead of refused: a directory is
     * moved aside to `<livePath>.pre-chunkswarm`, kept whole; what differs from the release is
     * recorded as drift.
     */
    adoptLive: z.boolean().default(false),
    cluster: z.strictObject({
      publisherKey: hex64.describe('the publisher Ed25519 public key, raw, hex'),
      secretFile: z.string().min(1).default('cluster.secret'),
    }),
    publisher: z
      .strictObject({
        privateKeyFile: z.string().min(1).default('publisher.key'),
        recordOwner: z.boolean().default(false),
        /** Worker threads that copy and hash small files beside the main one (null: a core each, from 2,000 files on). */
        copyThreads: z.number().int().min(0).max(16).nullable().default(null),
      })
      .nullable()
      .default(null),
    network: z
      .strictObject({
        bootstrap: z.array(hostPort).default([]),
        bootstrapPort: z.number().int().min(0).max(65535).nullable().default(null),
        host: z.string().min(1).default(DEFAULT_HOST),
        /** TCP port of the direct path for piece traffic (0: any free port; null: none, hyperswarm only). */
        port: z.number().int().min(0).max(65535).nullable().default(DEFAULT_DIRECT_PORT),
        /** UDP port of this node's DHT and hyperswarm connections (null: any free port; set it to open a firewall). */
        dhtPort: z.number().int().min(1).max(65535).nullable().default(null),
        /** Node public keys (hex) allowed to connect; null: any node that knows the cluster secret. */
        allowlist: z.array(hex64).nullable().default(null),
      })
      .prefault({}),
    limits: z
      .strictObject({
        uploadBytesPerSec: bytesPerSec.default(0),
        downloadBytesPerSec: bytesPerSec.default(0),
        perPeerUploadBytesPerSec: bytesPerSec.default(0),
        maxPeers: z.number().int().min(1).max(1024).default(64),
        maxRequestsPerPeer: z.number().int().min(1).max(4096).default(64),
        requestTimeoutMs: z.number().int().min(100).default(10_000),
        uploadSlots: z.number().int().min(1).max(256).default(8),
        /** Peers whose object requests the publisher answers at once (the others fetch them from those); null: all. */
        objectClients: z.number().int().min(1).max(1024).nullable().default(null),
        /** What a release may expand to on disk; checked from its objects before it is staged. */
        maxReleasePaths: z.number().int().min(1).default(10_000_000),
        maxReleaseBytes: z.number().int().min(1).default(2 ** 44),
        maxReleaseDepth: z.number().int().min(1).max(2048).default(1024),
      })
      .prefault({}),
    releases: z.strictObject({ keep: z.number().int().min(1).default(3) }).prefault({}),
    verify: z.strictObject({ intervalSec: z.number().int().min(0).default(300) }).prefault({}),
    drift: z
      .strictObject({ policy: z.enum(['preserve', 'block', 'overwrite']).default('preserve') })
      .prefault({}),
    fleet: z
      .strictObject({
        /** How often a node gossips its signed status report to its peers. */
        reportIntervalSec: z.number().int().min(1).max(3600).default(5),
        /** A node with no report this long is shown as unreachable. */
        unreachableAfterSec: z.number().int().min(2).default(30),
        /** Largest drift record (preserved bytes) `drift pull` takes from or gives to a peer; below the 16 MiB message limit. */
        maxDriftPullBytes: z.number().int().min(1).max(12 * 1024 * 1024).default(8 * 1024 * 1024),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        /** Prometheus metrics and the dashboard: a port (on 127.0.0.1) or "host:port"; null: off. */
        listen: z.union([z.number().int().min(0).max(65535), hostPort]).nullable().default(null),
      })
      .prefault({}),
    hooks: z
      .strictObject({
        preActivate: hookCommand.default(null),
        postActivate: hookCommand.default(null),
        /** A hook still running after this long is killed (with what it started): a failed preActivate, a warning for postActivate. */
        timeoutSec: z.number().int().min(1).max(86_400).default(300),
      })
      .prefault({}),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
