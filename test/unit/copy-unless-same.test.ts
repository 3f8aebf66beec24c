import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copyUnlessSame } from '../../src/admin/copy-and-hash.js';
import { hashFile } from '../../src/manifest/index.js';
import { tempDirs } from '../support/temp-dirs.js';

const tempDir = tempDirs();

/** A file of `size` random bytes and its file object, chunked as a publish does. */
async function original(dir: string, size: number) {
  const bytes = randomBytes(size);
  const path = join(dir, 'src');
  await writeFile(path, bytes);
  return { path, bytes, file: await hashFile(path) };
}

describe('copyUnlessSame: a source file copied only where it is not the previous release\'s', () => {
  it('a large file equal to the previous one is hashed and not copied', async () => {
    const dir = await tempDir('cs-copy-same-');
    const o = await original(dir, 3 * 1024 * 1024 + 17);
    const got = await copyUnlessSame(o.path, join(dir, 'dest'), 'src', o.file);
    expect(got).toEqual({ file: o.file, copied: false });
    expect(existsSync(join(dir, 'dest'))).toBe(false);
  });

  it.for([
    ['at the start', 10],
    ['in the middle', 1_600_000],
    ['in the last chunk', 3 * 1024 * 1024 + 10],
  ] as const)('a same-size large file edited %s is copied whole, with the file object a fresh chunking gives', async ([, at]) => {
    const dir = await tempDir('cs-copy-edit-');
    const o = await original(dir, 3 * 1024 * 1024 + 17);
    const edited = Buffer.from(o.bytes);
    randomBytes(1000).copy(edited, Math.min(at, edited.length - 1000));
    await writeFile(o.path, edited);
    const got = await copyUnlessSame(o.path, join(dir, 'dest'), 'src', o.file);
    expect(got.copied).toBe(true);
    expect(got.file).toEqual(await hashFile(o.path));
    expect((await readFile(join(dir, 'dest'))).equals(edited)).toBe(true);
  });

  it('with no previous file, or a small one, the copy is what was hashed', async () => {
    const dir = await tempDir('cs-copy-new-');
    const o = await original(dir, 2 * 1024 * 1024 + 5);
    const got = await copyUnlessSame(o.path, join(dir, 'dest'), 'src', null);
    expect(got).toEqual({ file: o.file, copied: true });
    expect((await readFile(join(dir, 'dest'))).equals(o.bytes)).toBe(true);

    const small = join(dir, 'small');
    await writeFile(small, 'workers 2\n');
    const before = await hashFile(small);
    expect(await copyUnlessSame(small, join(dir, 'small-dest'), 'small', before)).toEqual({ file: before, copied: false });
    expect(existsSync(join(dir, 'small-dest'))).toBe(false);
    await writeFile(small, 'workers 4\n');
    const changed = await copyUnlessSame(small, join(dir, 'small-dest'), 'small', before);
    expect(changed).toEqual({ file: await hashFile(small), copied: true });
    expect(await readFile(join(dir, 'small-dest'), 'utf8')).toBe('workers 4\n');
  });

  it('runs of zeros in the part before the first difference stay holes in the copy, and read back as zeros', async () => {
    const dir = await tempDir('cs-copy-sparse-');
    const bytes = Buffer.concat([Buffer.alloc(2 * 1024 * 1024), randomBytes(1024 * 1024)]);
    const path = join(dir, 'src');
    await writeFile(path, bytes);
    const previous = await hashFile(path);
    randomBytes(100).copy(bytes, bytes.length - 200);
    await writeFile(path, bytes);
    const got = await copyUnlessSame(path, join(dir, 'dest'), 'src', previous);
    expect(got.copied).toBe(true);
    expect((await readFile(join(dir, 'dest'))).equals(bytes)).toBe(true);
    expect((await stat(join(dir, 'dest'))).blocks * 512).toBeLessThan(2 * 1024 * 1024);
  });

  it('a large file that grows while it is read (reads run ahead of the hashing) is E_FILE_CHANGED, naming it', async () => {
    const dir = await tempDir('cs-copy-grows-');
    const path = join(dir, 'src');
    await writeFile(path, randomBytes(32 * 1024 * 1024));
    // Another process appends a byte every millisecond for as long as the copy may take.
    const writer = spawn(process.execPath, ['-e', `const fs = require('fs'); setInterval(() => fs.appendFileSync(${JSON.stringify(path)}, 'x'), 1); setTimeout(() => process.exit(0), 20000);`]);
    try {
      const size = (await stat(path)).size;
      while ((await stat(path)).size === size) await new Promise((r) => setTimeout(r, 5));
      const err = await copyUnlessSame(path, join(dir, 'dest'), 'var/log/app.log', null).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_FILE_CHANGED', message: 'var/log/app.log changed while it was being published; publish again once writers are done' });
    } finally {
      writer.kill();
    }
  });
});
