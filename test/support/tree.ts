import { chmod, link, lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';

/** Deterministic pseudo-random bytes (fast; not crypto quality, not needed). */
export function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let block = createHash('sha256').update(String(seed)).digest();
  for (let off = 0; off < size; off += 32) {
    block.copy(out, off, 0, Math.min(32, size - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * A tree with every kind of entry a release must carry: nested dirs, a symlink, a hard link, an
 * empty file, a 0700 executable and a file over 1 MB.
 */
export async function makeSampleTree(root: string): Promise<void> {
  const files: Record<string, Buffer | string> = {
    'etc/app.conf': 'listen 80\nworkers 4\n',
    'etc/deep/nested/dir/value.txt': 'nested\n',
    'bin/run.sh': '#!/bin/sh\necho run\n',
    'data/big.bin': pseudoRandom(3 * 1024 * 1024 + 17, 1),
    'data/medium.bin': pseudoRandom(200 * 1024, 2),
    'empty': '',
  };
  for (const [p, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), content);
  }
  await chmod(join(root, 'bin/run.sh'), 0o700);
  await link(join(root, 'data/big.bin'), join(root, 'data/big-hardlink.bin'));
  await symlink('../etc/app.conf', join(root, 'bin/conf-link'));
  await ageTree(root, Object.keys(files));
}

export async function ageTree(root: string, paths: string[]): Promise<void> {
  const past = new Date(Date.now() - 3600_000);
  for (const p of paths) await utimes(join(root, p), past, past);
  await settle();
}

/** Waits out publish's racy-timestamp window (1 s) so the stat cache may vouch for what was written. */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1100));
}

/** Every entry under root as "path type [content or target]", never following symlinks. */
export async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      if (st.isDirectory()) {
        out.push(`${r} dir`);
        await walk(p, r);
      } else if (st.isSymbolicLink()) out.push(`${r} symlink ${await readlink(p)}`);
      else out.push(`${r} file ${(await readFile(p)).toString('base64')}`);
    }
  };
  await walk(root, '');
  return out;
}
