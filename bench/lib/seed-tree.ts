import { randomFillSync } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Per 20,000 files. `users`: the users' CGI chroot (issue 9), 185 MB. `big`: files of ~5 MB, as
 * issue 10's big-file tree (40 of them: 200 MB), where the data plane, not the file count, decides.
 * `sparse`: 64 MiB disk images holding `data` bytes each (half at the start, half in the middle),
 * the rest holes, as an OS tree's VM images or /var/log/lastlog (e.g. --files 20: 1.3 GB apparent).
 */
export const SHAPES = {
  users: [
    { count: 18_000, size: 1_536, jitter: 512, name: 'php' },
    { count: 1_960, size: 40_000, jitter: 8_000, name: 'inc' },
    { count: 40, size: 2_000_000, jitter: 200_000, name: 'bin' },
  ],
  big: [{ count: 20_000, size: 5_000_000, jitter: 100_000, name: 'bin' }],
  sparse: [{ count: 20_000, size: 64 * 1024 * 1024, jitter: 0, name: 'img', data: 512 * 1024 }],
} as const;
export type SeedShape = keyof typeof SHAPES;
const FILES_PER_DIR = 100;

/**
 * A tree of `files` files of the given shape (by default the users' workload: mostly ~1.5 KB
 * scripts, some ~40 KB files, a few ~2 MB binaries), 100 files per directory, two levels deep.
 * Random, incompressible content; deterministic for a seed.
 */
export function generateSeedTree(root: string, files: number, shape: SeedShape = 'users', seed = 9): { files: number; bytes: number; paths: string[] } {
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const sizes: Array<{ size: number; name: string; data?: number }> = [];
  for (const k of SHAPES[shape]) {
    const n = Math.round((k.count * files) / 20_000);
    const data = 'data' in k ? { data: k.data } : {};
    for (let i = 0; i < n; i++) sizes.push({ size: Math.max(1, Math.round(k.size + (rnd() * 2 - 1) * k.jitter)), name: k.name, ...data });
  }
  // Shuffled, so that each directory holds a mix, as a real tree does.
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  const buf = Buffer.allocUnsafe(8 << 20);
  const paths: string[] = [];
  let bytes = 0;
  sizes.forEach((f, i) => {
    const d = Math.floor(i / FILES_PER_DIR);
    const dir = join(`lib${Math.floor(d / 20)}`, `mod${d % 20}`);
    if (i % FILES_PER_DIR === 0) mkdirSync(join(root, dir), { recursive: true });
    const rel = join(dir, `f${i}.${f.name}`);
    if (f.data === undefined) {
      randomFillSync(buf, 0, f.size);
      writeFileSync(join(root, rel), buf.subarray(0, f.size));
    } else {
      const half = f.data >> 1;
      randomFillSync(buf, 0, f.data);
      const fd = openSync(join(root, rel), 'w');
      ftruncateSync(fd, f.size);
      writeSync(fd, buf, 0, half, 0);
      writeSync(fd, buf, half, half, f.size >> 1);
      closeSync(fd);
    }
    paths.push(rel);
    bytes += f.size;
  });
  return { files: sizes.length, bytes, paths };
}
