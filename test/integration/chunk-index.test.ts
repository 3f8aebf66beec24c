/**
 * The chunk index holds a location per chunk for at most two releases at once (a node keeps
 * `releases.keep` of them, an upgraded publisher every one it made, and indexing each one it ever
 * read from grew without end). Forgetting a release must not lose what it alone holds: a lookup
 * indexes it again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ChunkIndex } from '../../src/store/index.js';
import { pseudoRandom } from '../support/tree.js';
import { Craft } from './deploy-craft.js';

let k: Craft;

beforeEach(async () => {
  k = await Craft.create('cs-chunk-index-');
});

afterEach(async () => {
  await rm(k.dir, { recursive: true, force: true });
});

describe('chunk index', () => {
  it('serves chunks held only by releases it forgot, in any order, and still refuses a tampered one', async () => {
    const only: Array<{ hash: string; bytes: Buffer }> = [];
    for (let v = 1; v <= 4; v++) {
      const bytes = pseudoRandom(10_000 + v, v);
      const file = await k.file(`only-${v}.bin`, bytes);
      const release = k.release(v, await k.tree([file]));
      await k.finish(await k.open(release, v === 1 ? null : v - 1));
      await k.releases.saveHead(release);
      only.push({ hash: createHash('sha256').update(bytes).digest('hex'), bytes });
      expect((await k.objects.getFile(file.hash!)).chunks.map((c) => c.hash)).toEqual([only[v - 1]!.hash]);
    }
    const index = new ChunkIndex({ releases: k.releases, objects: k.objects });
    for (const v of [4, 1, 3, 2, 4, 1, 1, 2]) {
      expect(Buffer.from((await index.readChunk(only[v - 1]!.hash))!).equals(only[v - 1]!.bytes), `release ${v}`).toBe(true);
    }
    const fh = await open(join(k.releases.releasePath(3), 'only-3.bin'), 'r+');
    await fh.write(Buffer.from('TAMPERED'), 0, 8, 100);
    await fh.close();
    expect(await index.readChunk(only[2]!.hash)).toBeNull();
    expect(index.tampered).toBe(1);
  });
});
