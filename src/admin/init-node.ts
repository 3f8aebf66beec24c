import { randomBytes } from 'node:crypto';
import { access, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { CONFIG_FILE, DEFAULT_HOST, loadConfig, readSecretFile, writeSecretFile, type ConfigInput } from '../config/index.js';
import { generatePublisherKeys } from '../manifest/index.js';
import { membershipPath, nodeKeyPair, nodeSeed } from '../membership/index.js';
import { checkNewLivePath } from '../deploy/live.js';
import { controlSocketProblem } from './control-socket.js';
import { bootstrapPortFor, DEFAULT_BOOTSTRAP_PORT, directPortFor } from '../swarm/node-ports.js';

export interface InitOptions {
  dir: string;
  /** Create a new cluster with this node as its publisher. */
  publisher?: boolean;
  /** Join the cluster of this existing node's swarm.config.json (copies public key, secret, bootstrap). */
  join?: string;
  bootstrap?: string[];
  bootstrapPort?: number;
  /** livePath (default ./live beside the config). */
  live?: string;
  /** adoptLive: what stands at livePath already is taken over by the first release (else it is refused here). */
  adopt?: boolean;
  /** network.host: the address this node binds and others reach it on. */
  host?: string;
  /** network.port: the TCP port of the direct path (0: any free port); absent: directPortFor's choice. */
  port?: number;
  /**
   * Publisher: enforce a membership the publisher signs (network.allowlist []), the default; false
   * lets in any node that knows the cluster secret (null).
   */
  allowlist?: boolean;
}

export interface InitResult {
  configPath: string;
  publisherKey: string;
  /** This node's swarm key (what `admit` takes). */
  nodeKey: string;
  /** Whether the cluster enforces a signed membership on this node (network.allowlist not null). */
  membership: boolean;
  /**
   * --join: where this node's copy of the cluster's signed membership came from, or null when the
   * other node had none (its publisher never admitted anyone yet, or the config is a copy from
   * another machine). An enforcing node without one lets no peer in: it needs the record that
   * admits it copied into its data directory (see the CLI's advice), or `join <token>`.
   */
  membershipFrom: string | null;
  /** Where this node keeps the signed membership it goes by. */
  membershipFile: string;
  created: string[];
}

/** Writes swarm.config.json and the 0600 secret files next to it. */
export async function initNode(opts: InitOptions): Promise<InitResult> {
  if (!!opts.publisher === !!opts.join) {
    throw ChunkswarmError.usage('say either --publisher (start a new cluster) or --join <path to a node\'s swarm.config.json>');
  }
  const dir = resolve(opts.dir);
  const livePath = opts.live ? resolve(opts.live) : './live';
  await checkNewLivePath(resolve(dir, livePath), opts.adopt === true);
  const socketProblem = controlSocketProblem(join(dir, 'data'));
  if (socketProblem !== null) throw ChunkswarmError.usage(`the data directory ${socketProblem} (--dir)`);
  const adopt = opts.adopt ? { adoptLive: true } : {};
  await mkdir(dir, { recursive: true });
  const configPath = join(dir, CONFIG_FILE);
  if (await access(configPath).then(() => true, () => false)) {
    throw ChunkswarmError.usage(`${configPath} already exists; refusing to overwrite a node's configuration`);
  }
  const created: string[] = [];
  const secretPath = join(dir, 'cluster.secret');
  // The node joined is on this machine more often than not (a trial, a second node on one box):
  // its ports are not to be drawn again, whether or not it runs now.
  const other = opts.join ? await loadConfig(opts.join) : null;
  const directPort = opts.port ?? (await directPortFor(opts.host ?? DEFAULT_HOST, other?.network.port ? [other.network.port] : []));
  const host = { ...(opts.host && { host: opts.host }), ...(directPort !== null && { port: directPort }) };
  let config: ConfigInput;
  /** The joined node's membership record: on the same machine (tests, a second node on one box) it lets this node accept the members at once. */
  let record: string | null = null;
  if (opts.publisher) {
    const keys = generatePublisherKeys();
    const keyPath = join(dir, 'publisher.key');
    await writeSecretFile(keyPath, keys.privateKeyPem);
    await writeSecretFile(secretPath, randomBytes(32).toString('hex'));
    created.push(keyPath, secretPath);
    const port = opts.bootstrapPort ?? DEFAULT_BOOTSTRAP_PORT;
    config = {
      dataDir: './data',
      livePath,
      ...adopt,
      cluster: { publisherKey: Buffer.from(keys.publicKey).toString('hex'), secretFile: 'cluster.secret' },
      publisher: { privateKeyFile: 'publisher.key', recordOwner: false },
      network: {
        bootstrap: opts.bootstrap ?? [`${opts.host ?? '127.0.0.1'}:${port}`],
        bootstrapPort: port,
        ...host,
        allowlist: opts.allowlist === false ? null : [],
      },
    };
  } else {
    const joined = other!;
    await writeSecretFile(secretPath, await readSecretFile(joined.cluster.secretFile));
    created.push(secretPath);
    config = {
      dataDir: './data',
      livePath,
      ...adopt,
      cluster: { publisherKey: joined.cluster.publisherKey, secretFile: 'cluster.secret' },
      network: {
        bootstrap: opts.bootstrap ?? joined.network.bootstrap,
        // A bootstrap node of its own, which its peers remember (see join).
        bootstrapPort: opts.bootstrapPort ?? (await bootstrapPortFor(opts.host ?? DEFAULT_HOST, joined.network.bootstrapPort ? [joined.network.bootstrapPort] : [])),
        ...host,
        allowlist: joined.network.allowlist,
      },
      limits: joined.limits,
    };
    record = membershipPath(joined.dataDir);
  }
  await mkdir(join(dir, 'data'), { recursive: true });
  const membershipFile = membershipPath(join(dir, 'data'));
  const copied = record !== null && (await copyFile(record, membershipFile).then(() => true, () => false));
  const seed = await nodeSeed(join(dir, 'data'));
  created.push(join(dir, 'data', 'node.seed'));
  await writeFile(configPath, JSON.stringify(config, null, 2) + '\n', { flag: 'wx' });
  created.unshift(configPath);
  return {
    configPath,
    publisherKey: config.cluster.publisherKey,
    nodeKey: nodeKeyPair(seed).publicKey.toString('hex'),
    membership: config.network?.allowlist !== null,
    membershipFrom: copied ? record : null,
    membershipFile,
    created: created.map((p) => relative(process.cwd(), p) || p),
  };
}
