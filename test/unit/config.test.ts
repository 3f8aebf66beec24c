import { describe, expect, it } from 'vitest';
import { writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig, readClusterSecret, readSecretFile, writeSecretFile } from '../../src/config/index.js';
import { isChunkswarmError } from '../../src/core/index.js';
import { tempDirs } from '../support/temp-dirs.js';

const tempDir = tempDirs();

const KEY = 'ab'.repeat(32);
const base = { cluster: { publisherKey: KEY } };

function configError(raw: unknown): string {
  try {
    parseConfig(raw, '/etc/chunkswarm/swarm.config.json');
  } catch (err) {
    if (isChunkswarmError(err, 'E_CONFIG')) return err.message;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('config', () => {
  it('fills defaults and resolves paths against the config file', () => {
    const c = parseConfig({ ...base, network: { bootstrap: ['127.0.0.1:4000'] } }, '/etc/chunkswarm/swarm.config.json');
    expect(c.dataDir).toBe('/etc/chunkswarm/data');
    expect(c.cluster.secretFile).toBe('/etc/chunkswarm/cluster.secret');
    expect(c.releases.keep).toBe(3);
    expect(c.drift.policy).toBe('preserve');
    expect(c.limits.maxPeers).toBe(64);
    expect(c.publisher).toBeNull();
    expect(c.bootstrapNodes).toEqual([{ host: '127.0.0.1', port: 4000 }]);
    expect(c.network.port).toBe(49738);
    expect(parseConfig({ ...base, network: { port: null } }, '/c.json').network.port).toBeNull();
  });

  it.each([
    [{ cluster: { publisherKey: 'xyz' } }, 'cluster.publisherKey'],
    [{}, 'cluster'],
    [{ ...base, limits: { maxPeers: 0 } }, 'limits.maxPeers'],
    [{ ...base, limits: { uploadBytesPerSec: -5 } }, 'limits.uploadBytesPerSec'],
    [{ ...base, drift: { policy: 'wipe' } }, 'drift.policy'],
    [{ ...base, network: { bootstrap: ['nohost'] } }, 'network.bootstrap.0'],
    [{ ...base, releases: { keep: 0 } }, 'releases.keep'],
    [{ ...base, privateKey: 'secret' }, '(root)'],
    [{ ...base, hooks: { preActivate: 3 } }, 'hooks.preActivate'],
    [{ ...base, network: { bootstrapPort: 0 } }, 'network.bootstrapPort'],
    [{ ...base, network: { port: 70000 } }, 'network.port'],
    [{ ...base, network: { port: '4000' } }, 'network.port'],
  ])('names the bad field: %j', (raw, field) => {
    expect(configError(raw)).toContain(`"${field}"`);
  });
});

describe('secret files', () => {
  it('are written 0600, never overwritten, and refused when readable by others', async () => {
    const dir = await tempDir('cs-keys-');
    const p = join(dir, 'cluster.secret');
    await writeSecretFile(p, 'cd'.repeat(32));
    expect(Buffer.from(await readClusterSecret(p)).toString('hex')).toBe('cd'.repeat(32));
    await expect(writeSecretFile(p, 'x')).rejects.toMatchObject({ code: 'E_KEY' });
    await chmod(p, 0o640);
    await expect(readSecretFile(p)).rejects.toMatchObject({ code: 'E_KEY', message: expect.stringContaining('chmod 600') });
    const short = join(dir, 'short.secret');
    await writeFile(short, 'abc', { mode: 0o600 });
    await expect(readClusterSecret(short)).rejects.toMatchObject({ code: 'E_KEY' });
  });
});

describe('the example swarm.config.json at the repository root', () => {
  it('is a valid config', async () => {
    const { readFile } = await import('node:fs/promises');
    const path = new URL('../../swarm.config.json', import.meta.url);
    const c = parseConfig(JSON.parse(await readFile(path, 'utf8')), '/etc/chunkswarm/swarm.config.json');
    expect(c.livePath).toBe('/webroot/cgi');
    expect(c.hooks.postActivate).toBe('apachectl graceful');
  });
});
