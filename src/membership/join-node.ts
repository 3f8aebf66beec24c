import { randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ChunkswarmError, splitHostPort } from '../core/index.js';
import { controlSocketProblem } from '../admin/control-socket.js';
import { CONFIG_FILE, DEFAULT_HOST, writeSecretFile, type ConfigInput } from '../config/index.js';
import { clusterIdOf } from '../manifest/index.js';
import { checkNewLivePath } from '../deploy/live.js';
import { atomicWrite } from '../store/index.js';
import { bootstrapPortFor, directPortFor } from '../swarm/node-ports.js';
import { nodeKeyPair, nodeSeedPath } from './identity.js';
import { encodeMembership, MAX_NAME_CHARS, memberName } from './record.js';
import { redeem } from './redeem.js';
import { StagedDir } from './staged-dir.js';
import { decodeToken } from './token.js';

export interface JoinNodeOptions {
  token: string;
  /** The new node's directory: must not exist yet, or be empty. */
  dir: string;
  /** dataDir, if not data/ inside `dir`: must not exist yet, or be empty. */
  dataDir?: string;
  livePath: string;
  /** adoptLive: what stands at livePath already is taken over by the first release (else it is refused here). */
  adopt?: boolean;
  host?: string;
  name?: string;
  bootstrapPort?: number;
  /** network.port: the TCP port of the direct path (0: any free port); absent: directPortFor's choice. */
  port?: number;
  timeoutMs?: number;
  now?: Date;
}

export interface JoinNodeResult {
  configPath: string;
  dir: string;
  dataDir: string;
  livePath: string;
  nodeKey: string;
  cluster: string;
  publisherKey: string;
  membershipVersion: number | null;
  enforced: boolean;
  bootstrap: string[];
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * `chunkswarm join <token>`: a complete node directory (config, cluster.secret and node.seed
 * 0600, the membership record that admits it) or nothing. Everything is written where it does not
 * count (StagedDir) and put in place at the end, the config last, so a refused token, a dead
 * publisher or a full disk leaves no half-made node behind.
 */
export async function joinNode(o: JoinNodeOptions): Promise<JoinNodeResult> {
  const token = decodeToken(o.token);
  const now = o.now ?? new Date();
  if (token.expires * 1000 <= now.getTime()) {
    throw new ChunkswarmError('E_TOKEN_EXPIRED', `the join token expired at ${new Date(token.expires * 1000).toISOString()} (this machine's clock says ${now.toISOString()}): ask for a new one`);
  }
  if (o.name !== undefined && !memberName.min(1).safeParse(o.name).success) {
    throw ChunkswarmError.usage(`--name ${JSON.stringify(o.name)}: 1 to ${MAX_NAME_CHARS} characters, no control characters`);
  }
  const dir = resolve(o.dir);
  const dataTarget = o.dataDir ? resolve(o.dataDir) : null;
  if (dataTarget === dir) throw ChunkswarmError.usage('--data-dir must differ from --dir (the data directory is its own, or data/ inside --dir)');
  const livePath = resolve(o.livePath);
  const liveParent = dirname(livePath);
  // The node's own directory (init's default, ./live beside the config) comes into being below.
  if (liveParent !== dir && !(await stat(liveParent).then((s) => s.isDirectory(), () => false))) {
    throw ChunkswarmError.usage(`the directory that is to hold livePath (${liveParent}) does not exist: create it, owned by the user that runs chunkswarm`);
  }
  await checkNewLivePath(livePath, o.adopt === true);
  // Before the token is spent: a node whose serve cannot start is no use.
  const socketProblem = controlSocketProblem(dataTarget ?? join(dir, 'data'));
  if (socketProblem !== null) throw ChunkswarmError.usage(`the data directory ${socketProblem} (--dir, --data-dir)`);

  const staged: StagedDir[] = [];
  try {
    const configDir = await StagedDir.open(dir, CONFIG_FILE);
    staged.push(configDir);
    const dataDir = dataTarget ? await StagedDir.open(dataTarget, 'node.seed') : null;
    if (dataDir) staged.push(dataDir);
    const dataPath = dataDir?.path ?? join(configDir.path, 'data');
    if (!dataDir) await mkdir(dataPath);
    const seed = randomBytes(32);
    await writeSecretFile(nodeSeedPath(dataPath), seed.toString('hex'));
    const keyPair = nodeKeyPair(seed);
    // The name in the membership is the node's name (node.name: the host name unless given).
    const directPort = o.port ?? (await directPortFor(o.host ?? DEFAULT_HOST));
    const got = await redeem({ token, keyPair, name: (o.name ?? hostname()).slice(0, MAX_NAME_CHARS), ...(o.host && { host: o.host }), timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    // The invitation is spent from here on: a failure below needs a new token.
    const spent = (err: unknown) => {
      const e = ChunkswarmError.fromSystem(err, 'writing the new node');
      return new ChunkswarmError(e.code, `${e.message} (the invitation is spent: ask for a new token)`, { cause: err });
    };
    try {
      await writeSecretFile(join(configDir.path, 'cluster.secret'), Buffer.from(got.clusterSecret).toString('hex'));
      if (got.membership) await atomicWrite(join(dataPath, 'membership.json'), encodeMembership(got.membership) + '\n');
      const config: ConfigInput = {
        ...(o.name && { node: { name: o.name } }),
        dataDir: dataTarget ?? './data',
        livePath,
        ...(o.adopt && { adoptLive: true }),
        cluster: { publisherKey: Buffer.from(token.publisherKey).toString('hex'), secretFile: 'cluster.secret' },
        network: {
          bootstrap: token.bootstrap,
          // Every node runs a bootstrap node of its own unless told otherwise: its peers remember it
          // (BootstrapMemory), so that the swarm is found while the token's nodes (the master's) are down.
          // The inviter may be on this machine (a trial on loopback): a free port drawn is none of its bootstrap ports.
          bootstrapPort: o.bootstrapPort ?? (await bootstrapPortFor(o.host ?? DEFAULT_HOST, token.bootstrap.map((a) => splitHostPort(a).port))),
          ...(o.host && { host: o.host }),
          ...(directPort !== null && { port: directPort }),
          // The record that admitted this node governs who may connect; the list is its fallback.
          allowlist: got.enforced ? [] : null,
        },
      };
      await writeFile(join(configDir.path, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n', { flag: 'wx' });
      // The config last: a directory with one is a node.
      await dataDir?.commit();
      await configDir.commit(CONFIG_FILE);
    } catch (err) {
      throw spent(err);
    }
    staged.length = 0;
    return {
      configPath: join(dir, CONFIG_FILE),
      dir,
      dataDir: dataTarget ?? join(dir, 'data'),
      livePath,
      nodeKey: keyPair.publicKey.toString('hex'),
      cluster: clusterIdOf(token.publisherKey),
      publisherKey: Buffer.from(token.publisherKey).toString('hex'),
      membershipVersion: got.membership?.body.version ?? null,
      enforced: got.enforced,
      bootstrap: token.bootstrap,
    };
  } finally {
    for (const d of staged) await d.discard();
  }
}
