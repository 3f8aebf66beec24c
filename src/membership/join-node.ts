import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { CONFIG_FILE, writeSecretFile, type ConfigInput } from '../config/index.js';
import { clusterIdOf } from '../manifest/index.js';
import { atomicWrite } from '../store/index.js';
import { nodeKeyPair, nodeSeedPath } from './identity.js';
import { encodeMembership, MAX_NAME_CHARS, memberName } from './record.js';
import { redeem } from './redeem.js';
import { decodeToken } from './token.js';

export interface JoinNodeOptions {
  token: string;
  /** The new node's directory: must not exist yet, or be empty. */
  dir: string;
  livePath: string;
  host?: string;
  name?: string;
  bootstrapPort?: number;
  timeoutMs?: number;
  now?: Date;
}

export interface JoinNodeResult {
  configPath: string;
  dir: string;
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
 * 0600, the membership record that admits it) or nothing. Everything is written to a temporary
 * directory beside `dir` and renamed into place at the end, so a refused token, a dead publisher
 * or a full disk leaves no half-made node behind.
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
  await checkTarget(dir);
  const livePath = resolve(o.livePath);
  const liveParent = dirname(livePath);
  // The node's own directory (init's default, ./live beside the config) comes into being below.
  if (liveParent !== dir && !(await stat(liveParent).then((s) => s.isDirectory(), () => false))) {
    throw ChunkswarmError.usage(`the directory that is to hold livePath (${liveParent}) does not exist: create it, owned by the user that runs chunkswarm`);
  }

  const tmp = join(dirname(dir), `.${basename(dir)}.join-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { mode: 0o755 }).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `creating ${tmp}`);
  });
  try {
    const dataDir = join(tmp, 'data');
    await mkdir(dataDir);
    const seed = randomBytes(32);
    await writeSecretFile(nodeSeedPath(dataDir), seed.toString('hex'));
    const keyPair = nodeKeyPair(seed);
    // The name in the membership is the node's name (node.name: the host name unless given).
    const got = await redeem({ token, keyPair, name: (o.name ?? hostname()).slice(0, MAX_NAME_CHARS), ...(o.host && { host: o.host }), timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    // The invitation is spent from here on: a failure below needs a new token.
    await writeSecretFile(join(tmp, 'cluster.secret'), Buffer.from(got.clusterSecret).toString('hex'));
    if (got.membership) await atomicWrite(join(dataDir, 'membership.json'), encodeMembership(got.membership) + '\n');
    const publisherKey = Buffer.from(token.publisherKey).toString('hex');
    const config: ConfigInput = {
      ...(o.name && { node: { name: o.name } }),
      dataDir: './data',
      livePath,
      cluster: { publisherKey, secretFile: 'cluster.secret' },
      network: {
        bootstrap: token.bootstrap,
        bootstrapPort: o.bootstrapPort ?? null,
        ...(o.host && { host: o.host }),
        // The record that admitted this node governs who may connect; the list is its fallback.
        allowlist: got.enforced ? [] : null,
      },
    };
    await writeFile(join(tmp, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n', { flag: 'wx' });
    await rename(tmp, dir).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOTEMPTY' || err.code === 'EEXIST'
        ? new ChunkswarmError('E_EXISTS', `${dir} was filled by something else while joining: the invitation is spent, ask for a new token`)
        : ChunkswarmError.fromSystem(err, `moving the new node into ${dir} (the invitation is spent: ask for a new token)`);
    });
    return {
      configPath: join(dir, CONFIG_FILE),
      dir,
      nodeKey: keyPair.publicKey.toString('hex'),
      cluster: clusterIdOf(token.publisherKey),
      publisherKey,
      membershipVersion: got.membership?.body.version ?? null,
      enforced: got.enforced,
      bootstrap: token.bootstrap,
    };
  } finally {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** The node directory must be new: joining never touches an existing node's files. */
async function checkTarget(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new ChunkswarmError('E_EXISTS', `${dir} exists and is not a directory`);
    throw ChunkswarmError.fromSystem(err, `reading ${dir}`);
  }
  if (entries.includes(CONFIG_FILE)) {
    throw new ChunkswarmError('E_EXISTS', `${join(dir, CONFIG_FILE)} already exists: this directory is a node already; join into a new directory`);
  }
  if (entries.length > 0) throw new ChunkswarmError('E_EXISTS', `${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): join into a new or empty directory`);
}
