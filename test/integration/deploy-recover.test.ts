import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstat, mkdir, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { recover } from '../../src/deploy/index.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import { Craft } from './deploy-craft.js';

let k: Craft;
let config: Config;

beforeEach(async () => {
  k = await Craft.create('cs-deploy-recover-');
  config = parseConfig({ cluster: { publisherKey: 'ab'.repeat(32) }, dataDir: './data', livePath: './live' }, join(k.dir, 'swarm.config.json'));
  for (const v of [1, 2]) {
    const r = k.release(v, await k.tree([await k.file('f', Buffer.from(`v${v}\n`))]));
    await k.finish(await k.open(r));
    await k.releases.saveHead(r);
  }
});

afterEach(async () => {
  await rm(k.dir, { recursive: true, force: true });
});

describe('recover after a crash', () => {
  it('trusts livePath over state.json when it points at a complete release', async () => {
    await symlink(k.releases.releasePath(2), config.livePath);
    await k.releases.saveState({ live: 1, pinned: false });
    const fixed = await recover(config, k.releases);
    expect(fixed).toHaveLength(1);
    expect((await k.releases.state()).live).toBe(2);
    expect(await recover(config, k.releases)).toEqual([]);
  });

  it('repoints a dangling livePath at an existing release and removes interrupted temp links', async () => {
    await symlink(join(k.releases.releasesDir, '9'), config.livePath);
    const tmp = join(dirname(config.livePath), '.live.chunkswarm-0123456789ab.tmp');
    await symlink(k.releases.releasePath(2), tmp);
    await k.releases.saveState({ live: 1, pinned: true });
    await recover(config, k.releases);
    expect(await readlink(config.livePath)).toBe(k.releases.releasePath(1));
    expect((await readdir(dirname(config.livePath))).filter((n) => n.includes('chunkswarm-'))).toEqual([]);
    expect(await k.releases.state()).toEqual({ live: 1, pinned: true });
  });

  it('removes a dangling livePath when no release is left, and leaves a real directory alone', async () => {
    for (const v of [1, 2]) await rm(k.releases.releasePath(v), { recursive: true });
    await symlink(k.releases.releasePath(2), config.livePath);
    await recover(config, k.releases);
    await expect(lstat(config.livePath)).rejects.toThrow(/ENOENT/);
    await mkdir(config.livePath);
    expect(await recover(config, k.releases)).toEqual([]);
    expect((await lstat(config.livePath)).isDirectory()).toBe(true);
  });
});
