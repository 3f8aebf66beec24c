/**
 * Object records are written many per write(), at the end of the event loop's turn or before a
 * syncfs: a write that fails (a full disk) must still reach the caller, and the objects it lost
 * must not look stored. On a tmpfs of 1 MiB, mounted by the test (root), else skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ObjectStore, syncFilesystem } from '../../src/store/index.js';
import type { TreeObject } from '../../src/manifest/index.js';

let dir: string;
let mnt: string;
let mounted = false;
let reason = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-journal-enospc-'));
  mnt = join(dir, 'mnt');
  await mkdir(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'pipe' });
    mounted = true;
  } catch (err) {
    reason = `cannot mount a small tmpfs (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}); journal ENOSPC test skipped`;
  }
});

afterAll(async () => {
  if (mounted) execFileSync('umount', ['-l', mnt]);
  await rm(dir, { recursive: true, force: true });
});

/** ~10 KB encoded: its record needs pages of its own, which a full tmpfs cannot give. */
const tree = (n: number): TreeObject => ({
  kind: 'tree',
  entries: Array.from({ length: 40 }, (_, i) => ({ name: `link-${String(i).padStart(3, '0')}`, type: 'symlink' as const, mode: 0o777, mtime: n, target: 'x'.repeat(200) })),
});

describe('object journal on a full disk', () => {
  it('reports the failed write to the next caller and forgets the objects it lost, then stores again once there is room', async (ctx) => {
    if (!mounted) {
      console.warn(reason);
      ctx.skip();
    }
    const objects = join(mnt, 'objects');
    const store = new ObjectStore(objects);
    const kept = await store.put(tree(0));
    await syncFilesystem(mnt);
    // The rest of the file system, taken: the next records have no room.
    await writeFile(join(mnt, 'filler'), Buffer.alloc(1024 * 1024)).catch(() => undefined);
    const lost = await store.put(tree(1)); // pending: no error yet
    expect(await store.has(lost)).toBe(true);
    await nextTurn(); // the deferred write fails here
    expect(await store.has(lost)).toBe(false);
    await expect(store.put(tree(2))).rejects.toMatchObject({ code: 'E_NO_SPACE' });
    expect(await new ObjectStore(objects).has(lost)).toBe(false);
    expect(await new ObjectStore(objects).getTree(kept)).toEqual(tree(0));

    await rm(join(mnt, 'filler'));
    expect(await store.put(tree(1))).toBe(lost);
    await syncFilesystem(mnt);
    expect(await new ObjectStore(objects).getTree(lost)).toEqual(tree(1));
  });

  it('makes syncFilesystem fail when the records it must write have no room', async (ctx) => {
    if (!mounted) {
      console.warn(reason);
      ctx.skip();
    }
    const objects = join(mnt, 'objects-2');
    const store = new ObjectStore(objects);
    await store.put(tree(10));
    await syncFilesystem(mnt);
    await writeFile(join(mnt, 'filler'), Buffer.alloc(1024 * 1024)).catch(() => undefined);
    await store.put(tree(11));
    await expect(syncFilesystem(mnt)).rejects.toMatchObject({ code: 'E_NO_SPACE' });
    await rm(join(mnt, 'filler'));
  });
});
