import { mkdir, open } from 'node:fs/promises';
import { createCipheriv } from 'node:crypto';
import { join } from 'node:path';

export interface GenSpec {
  /** Total bytes to write. */
  bytes: number;
  /** Number of files. */
  files: number;
  /** Files per directory. */
  perDir?: number;
  seed?: number;
}

/**
 * A web-root-like tree: most files small (configs, scripts, templates), a few large (binaries,
 * archives), sizes drawn from a heavy-tailed distribution scaled to hit `bytes` in total.
 */
export async function generateTree(root: string, spec: GenSpec): Promise<{ files: number; bytes: number; paths: string[] }> {
  let s = spec.seed ?? 1;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const weights = Array.from({ length: spec.files }, () => Math.pow(rnd(), 6) + 0.0005);
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(0, Math.round((w / total) * spec.bytes)));
  const perDir = spec.perDir ?? 200;
  // File contents come from AES-CTR keyed by the seed: as incompressible as random bytes, but the
  // same tree on every run, so that chunk boundaries (and the simulator's pieces) do not move
  // between runs of one command.
  const key = Buffer.alloc(16);
  key.writeUInt32BE(spec.seed ?? 1);
  const stream = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  const paths: string[] = [];
  let bytes = 0;
  for (let i = 0; i < spec.files; i++) {
    const d = Math.floor(i / perDir);
    const dir = join(`d${Math.floor(d / 20)}`, `s${d % 20}`);
    await mkdir(join(root, dir), { recursive: true });
    const rel = join(dir, `f${i}.dat`);
    const fh = await open(join(root, rel), 'w');
    let left = sizes[i]!;
    while (left > 0) {
      const n = Math.min(left, zeros.length);
      await fh.write(stream.update(zeros.subarray(0, n)));
      left -= n;
    }
    await fh.close();
    paths.push(rel);
    bytes += sizes[i]!;
  }
  return { files: spec.files, bytes, paths };
}
