/**
 * A sparse file (a VM image, /var/log/lastlog) in the tree stays sparse: the publisher's release
 * and a follower's hold its data and leave its zeros as holes, instead of taking its full size on
 * every node (24 MiB here, a few hundred KiB of data).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pseudoRandom } from '../support/tree.js';
import { csJson, makeCluster, ok, cs, type Cluster } from './deploy-fixture.js';

const MiB = 1024 * 1024;
let dir: string;
let src: string;
let c: Cluster;

const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');
const onDisk = async (path: string) => (await lstat(path)).blocks * 512;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-sparse-'));
  src = join(dir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'small.txt'), 'not sparse\n');
  // 24 MiB apparent: 256 KiB of data at the start and at 16 MiB, zeros (holes) between and after.
  const fh = await open(join(src, 'disk.img'), 'w');
  await fh.truncate(24 * MiB);
  await fh.write(pseudoRandom(256 * 1024, 1), 0, 256 * 1024, 0);
  await fh.write(pseudoRandom(256 * 1024, 2), 0, 256 * 1024, 16 * MiB);
  await fh.close();
  c = await makeCluster(dir);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sparse files', () => {
  it('keep their holes in the publisher\'s release and in a follower\'s, with every byte the same', async () => {
    expect(await onDisk(join(src, 'disk.img'))).toBeLessThan(2 * MiB);
    const pub = await csJson<{ version: number }>(c.pub, 'publish', src, '--local');
    expect(pub.version).toBe(1);
    const published = join(c.pubData, 'releases', '1', 'disk.img');
    ok(await cs(c.fol, 'activate', '1', '--source-data', c.pubData));
    const live = join(c.folLive, 'disk.img');
    const want = await sha(join(src, 'disk.img'));
    for (const copy of [published, live]) {
      expect((await lstat(copy)).size, copy).toBe(24 * MiB);
      expect(await sha(copy), copy).toBe(want);
      // Written whole it would take 24 MiB; the data and the chunks around it take ~1 MiB.
      expect(await onDisk(copy), copy).toBeLessThan(4 * MiB);
    }
    const v = await csJson<{ entries: unknown[] }>(c.fol, 'verify', '--deep');
    expect(v.entries).toEqual([]);
  });
});
