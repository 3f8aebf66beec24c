import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { isChunkswarmError } from '../core/index.js';
import { readSecretFile, writeSecretFile } from '../config/index.js';

/** The node's swarm identity seed (dataDir/node.seed, 0600): the same public key across restarts. */
export async function nodeSeed(dataDir: string): Promise<Uint8Array> {
  const path = join(dataDir, 'node.seed');
  try {
    return Buffer.from(await readSecretFile(path), 'hex');
  } catch (err) {
    if (!isChunkswarmError(err, 'E_KEY') || !/cannot read/.test(err.message)) throw err;
  }
  const seed = randomBytes(32);
  await writeSecretFile(path, seed.toString('hex'));
  return seed;
}
