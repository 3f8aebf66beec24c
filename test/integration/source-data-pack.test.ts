/**
 * `activate --source-data` reads another node's objects from its pack in one read: a pack whose
 * checksum holds but whose records lie (crafted, not damaged) is caught object by object, with
 * nothing made live.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { cs, ok, publishedCluster, type Cluster } from './deploy-fixture.js';

let dir: string;
let c: Cluster;

beforeAll(async () => {
  ({ dir, c } = await publishedCluster('cs-source-pack-', { activated: true }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A third node joined to the cluster, empty. */
async function freshNode(name: string): Promise<string> {
  ok(await runCli(['init', '--dir', join(dir, name), '--join', c.pub]));
  return join(dir, name, 'swarm.config.json');
}

describe('objects from another data directory', () => {
  it('a path that is no data directory, or one without the release, is named as such', async () => {
    const n0 = await freshNode('n0');
    const none = await cs(n0, 'activate', '1', '--source-data', join(dir, 'no-such-dir'));
    expect(none.code).toBe(7);
    expect(none.stderr).toMatch(/E_NOT_FOUND: \S*no-such-dir holds no signed release: --source-data names a node's data directory/);
    const missing = await cs(n0, 'activate', '9', '--source-data', c.pubData);
    expect(missing.code).toBe(7);
    expect(missing.stderr).toMatch(/E_NOT_FOUND: release 9 is not in \S+, which holds 1 release, the newest 1/);
    expect(await lstat(join(dir, 'n0', 'live')).catch(() => null)).toBeNull();
  });

  it('come from its pack, and a record that is not its object is refused by hash', async () => {
    // The follower's data dir holds release 1's pack (written when it staged it).
    ok(await cs(await freshNode('n1'), 'activate', '1', '--source-data', c.folData));
    const packs = join(c.folData, 'objects', 'packs');
    const name = (await readdir(packs)).find((n) => /^[0-9a-f]{64}$/.test(n))!;
    const pack = await readFile(join(packs, name));
    // One byte of the first record's body changed, the pack's checksum made to match again.
    const magic = 'CSPACK2\n'.length;
    pack[magic + 37] = pack[magic + 37]! ^ 0xff;
    const end = pack.length - 32;
    createHash('sha256').update(pack.subarray(0, end)).digest().copy(pack, end);
    await writeFile(join(packs, name), pack);
    const n2 = await freshNode('n2');
    const r = await cs(n2, 'activate', '1', '--source-data', c.folData);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/E_HASH_MISMATCH/);
    expect(await lstat(join(dir, 'n2', 'live')).catch(() => null)).toBeNull();
  });
});
