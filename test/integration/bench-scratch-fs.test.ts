import { describe, expect, it } from 'vitest';
import { existsSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mountScratchFs, type ScratchFs } from '../../bench/lib/scratch-fs.js';

const SMALL = { inodes: 10_000, bytes: 64 * 2 ** 20 };

/** The filesystem type /proc/mounts gives for a mount point, or null when nothing is mounted there. */
function mountedType(dir: string): string | null {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, at, type] = line.split(' ');
    if (at === dir) return type ?? null;
  }
  return null;
}

const probe = await mountScratchFs('probe', SMALL);
const why = 'reason' in probe ? probe.reason : null;
if ('dir' in probe) await probe.release();
if (why) console.log(`bench-scratch-fs: skipped: ${why}`);

describe.skipIf(why !== null)("a bench's work directory on an ext4 of its own", () => {
  it('is a new ext4 mount that holds files, and is gone with its image once released', async () => {
    const fs = (await mountScratchFs('test', SMALL)) as ScratchFs;
    expect(mountedType(fs.dir)).toBe('ext4');
    writeFileSync(join(fs.dir, 'a'), 'bytes');
    expect(readFileSync(join(fs.dir, 'a'), 'utf8')).toBe('bytes');
    await fs.release();
    expect(mountedType(fs.dir)).toBeNull();
    expect(existsSync(dirname(fs.dir))).toBe(false);
  });

  it('is released even while a file on it is still open', async () => {
    const fs = (await mountScratchFs('test', SMALL)) as ScratchFs;
    const fd = openSync(join(fs.dir, 'held'), 'w');
    try {
      await fs.release();
      expect(mountedType(fs.dir)).toBeNull();
      expect(existsSync(dirname(fs.dir))).toBe(false);
    } finally {
      closeSync(fd);
    }
  });
});
