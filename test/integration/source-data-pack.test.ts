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
