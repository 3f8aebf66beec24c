import { open, readFile, stat } from 'node:fs/promises';
import { ChunkswarmError } from '../core/index.js';

/**
 * Secrets (cluster secret, publisher private key) live in their own files, mode 0600, never in
 * swarm.config.json, so the config can be shared, diffed and committed.
 */
export async function writeSecretFile(path: string, content: string): Promise<void> {
  let fh;
  try {
    // 'wx': never overwrite an existing key by accident.
    fh = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ChunkswarmError('E_KEY', `refusing to overwrite existing key file ${path}`);
    }
    throw ChunkswarmError.fromSystem(err, `writing key file ${path}`);
  }
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function readSecretFile(path: string): Promise<string> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new ChunkswarmError('E_KEY', `cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ChunkswarmError(
      'E_KEY',
      `key file ${path} has mode ${(st.mode & 0o777).toString(8)}: it must not be readable by group or others (chmod 600 ${path})`,
    );
  }
  return (await readFile(path, 'utf8')).trim();
}

/** The cluster secret: 32 random bytes, hex in its file. */
export async function readClusterSecret(path: string): Promise<Uint8Array> {
  const hex = await readSecretFile(path);
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new ChunkswarmError('E_KEY', `cluster secret file ${path} must hold 64 hex characters`);
  }
  return Buffer.from(hex, 'hex');
}
