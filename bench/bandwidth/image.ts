import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { generateTree } from '../lib/gen-tree.js';
import { IMAGE_DIR, type Image, type ImageDelta } from './types.js';

const run = promisify(execFile);
const INSERT_BYTES = 2048;
const APPEND_BYTES = 4096;
const NEW_FILE_BYTES = 64 * 1024;

/**
 * Release 1: a generated web-root-like tree. Release 2: a copy (mtimes kept, so rsync's quick
 * check skips unchanged files as it would in production) with 1% of the files changed, at least
 * one of each kind: bytes inserted in the middle, bytes appended, files added, files removed.
 */
export async function makeImage(work: string, spec: { bytes: number; files: number; seed?: number }): Promise<Image> {
  const v1 = join(work, 'v1', IMAGE_DIR);
  const v2 = join(work, 'v2', IMAGE_DIR);
  const gen = await generateTree(v1, { bytes: spec.bytes, files: spec.files, perDir: 100, seed: spec.seed ?? 5 });
  await mkdir(dirname(v2), { recursive: true });
  await run('cp', ['-a', v1, v2]);
  const delta = await changeOnePercent(v2, gen.paths, spec.seed ?? 5);
  return { v1, v2, v1Bytes: gen.bytes, v2Bytes: await treeBytes(v2, gen.paths, delta), files: gen.files, delta };
}

async function changeOnePercent(root: string, paths: string[], seed: number): Promise<ImageDelta> {
  let s = seed * 7919 + 1;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const count = Math.max(4, Math.round(paths.length / 100));
  const pool = [...paths];
  const pick = () => pool.splice(Math.floor(rnd() * pool.length), 1)[0]!;
  const delta: ImageDelta = { bytes: 0, edited: 0, appended: 0, added: 0, removed: 0 };
  for (let i = 0; i < count; i++) {
    const rel = pick();
    const path = join(root, rel);
    switch (i % 4) {
      case 0: {
        const old = await readFile(path);
        const mid = old.length >> 1;
        await writeFile(path, Buffer.concat([old.subarray(0, mid), randomBytes(INSERT_BYTES), old.subarray(mid)]));
        delta.edited++;
        delta.bytes += INSERT_BYTES;
        break;
      }
      case 1:
        await appendFile(path, randomBytes(APPEND_BYTES));
        delta.appended++;
        delta.bytes += APPEND_BYTES;
        break;
      case 2:
        await writeFile(join(dirname(path), `added-${i}.dat`), randomBytes(NEW_FILE_BYTES));
        delta.added++;
        delta.bytes += NEW_FILE_BYTES;
        break;
      default:
        await rm(path);
        delta.removed++;
    }
  }
  return delta;
}

async function treeBytes(root: string, v1Paths: string[], delta: ImageDelta): Promise<number> {
  let bytes = delta.added * NEW_FILE_BYTES;
  for (const rel of v1Paths) bytes += await stat(join(root, rel)).then((st) => st.size, () => 0);
  return bytes;
}
