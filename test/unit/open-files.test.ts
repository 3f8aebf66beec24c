import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { constants, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpenFiles } from '../../src/store/open-files.js';

function readAll(fd: number, size: number): string {
  const buf = Buffer.alloc(size);
  return buf.subarray(0, readSync(fd, buf, 0, size, 0)).toString();
}

describe('OpenFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'open-files-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a file open across uses and closes the least recently used beyond its size', async () => {
    for (const n of ['a', 'b', 'c']) await writeFile(join(dir, n), n);
    const files = new OpenFiles(constants.O_RDONLY, 2);
    const a = files.get(join(dir, 'a'));
    expect(files.get(join(dir, 'a'))).toBe(a);
    files.get(join(dir, 'b'));
    files.get(join(dir, 'a')); // b is now the least recently used
    files.get(join(dir, 'c'));
    expect(() => readSync(a.fd, Buffer.alloc(1))).not.toThrow();
    expect(files.get(join(dir, 'a'))).toBe(a);
    const b2 = files.get(join(dir, 'b'));
    expect(readAll(b2.fd, 8)).toBe('b');
    files.dropAll();
    expect(() => readSync(a.fd, Buffer.alloc(1))).toThrow();
  });

  it('follows the inode until dropped: a replaced file is seen only after drop or dropUnder', async () => {
    const path = join(dir, 'sub', 'f');
    await mkdir(join(dir, 'sub'));
    await writeFile(path, 'old');
    const files = new OpenFiles(constants.O_RDONLY);
    expect(readAll(files.get(path).fd, 8)).toBe('old');
    await writeFile(join(dir, 'new'), 'new');
    await rename(join(dir, 'new'), path);
    expect(readAll(files.get(path).fd, 8)).toBe('old');
    files.drop(path);
    expect(readAll(files.get(path).fd, 8)).toBe('new');
    await writeFile(join(dir, 'new'), 'newer');
    await rename(join(dir, 'new'), path);
    files.dropUnder(join(dir, 'sub'));
    expect(readAll(files.get(path).fd, 8)).toBe('newer');
    files.dropAll();
  });

  it('throws what open throws, and caches nothing then', () => {
    const files = new OpenFiles(constants.O_RDONLY);
    expect(() => files.get(join(dir, 'missing'))).toThrow(/ENOENT/);
  });
});
