import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { CONFIG_FILE, loadConfig, readSecretFile, writeSecretFile, type ConfigInput } from '../config/index.js';
import { generatePublisherKeys } from '../manifest/index.js';

export interface InitOptions {
  dir: string;
  /** Create a new cluster with this node as its publisher. */
  publisher?: boolean;
  /** Join the cluster of this existing node's swarm.config.json (copies public key, secret, bootstrap). */
  join?: string;
  bootstrap?: string[];
  bootstrapPort?: number;
}

export interface InitResult {
  configPath: string;
  publisherKey: string;
  created: string[];
}

/** Writes swarm.config.json and the 0600 secret files next to it. */
export async function initNode(opts: InitOptions): Promise<InitResult> {
  if (!!opts.publisher === !!opts.join) {
    throw ChunkswarmError.usage('say either --publisher (start a new cluster) or --join <path to a node\'s swarm.config.json>');
  }
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  const configPath = join(dir, CONFIG_FILE);
  if (await access(configPath).then(() => true, () => false)) {
    throw ChunkswarmError.usage(`${configPath} already exists; refusing to overwrite a node's configuration`);
  }
  const created: string[] = [];
  const secretPath = join(dir, 'cluster.secret');
  let config: ConfigInput;
  if (opts.publisher) {
    const keys = generatePublisherKeys();
    const keyPath = join(dir, 'publisher.key');
    await writeSecretFile(keyPath, keys.privateKeyPem);
    await writeSecretFile(secretPath, randomBytes(32).toString('hex'));
    created.push(keyPath, secretPath);
    config = {
      dataDir: './data',
      livePath: './live',
      cluster: { publisherKey: Buffer.from(keys.publicKey).toString('hex'), secretFile: 'cluster.secret' },
      publisher: { privateKeyFile: 'publisher.key', recordOwner: false },
      network: {
        bootstrap: opts.bootstrap ?? [`127.0.0.1:${opts.bootstrapPort ?? 49737}`],
        bootstrapPort: opts.bootstrapPort ?? 49737,
      },
    };
  } else {
    const other = await loadConfig(opts.join!);
    await writeSecretFile(secretPath, await readSecretFile(other.cluster.secretFile));
    created.push(secretPath);
    config = {
      dataDir: './data',
      livePath: './live',
      cluster: { publisherKey: other.cluster.publisherKey, secretFile: 'cluster.secret' },
      network: { bootstrap: opts.bootstrap ?? other.network.bootstrap, bootstrapPort: opts.bootstrapPort ?? null },
      limits: other.limits,
    };
  }
  await writeFile(configPath, JSON.stringify(config, null, 2) + '\n', { flag: 'wx' });
  created.unshift(configPath);
  return { configPath, publisherKey: config.cluster.publisherKey, created: created.map((p) => relative(process.cwd(), p) || p) };
}
