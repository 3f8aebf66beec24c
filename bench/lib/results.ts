import { mkdir, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { mountScratchFs, type ScratchFsOptions } from './scratch-fs.js';

/** The repository root, whether running from bench/ (tsx) or dist/bench/ (compiled). */
export const repoRoot = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${'/dist/'}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
})();

export function machine(): Record<string, unknown> {
  return { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) };
}

/** Writes bench/results/<name>-<date>.json (or into `dir`, e.g. a test's temporary one) and returns its path. */
export async function writeResult(name: string, data: Record<string, unknown>, dir = join(repoRoot, 'bench', 'results')): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = join(dir, `${name}-${stamp}.json`);
  await writeFile(path, JSON.stringify({ bench: name, at: new Date().toISOString(), machine: machine(), ...data }, null, 2) + '\n');
  return path;
}

/** Where a bench's work directory lies: `scratch` puts it on a filesystem of its own (see mountScratchFs). */
export interface BenchFrame {
  keep: boolean;
  scratch?: ScratchFsOptions | null;
}

/**
 * The frame every benchmark shares: a work dir (on a new filesystem where `scratch` asks for one
 * and the machine allows it, else in the temp dir, the reason printed), the JSON result written
 * (and its path printed), the dir removed unless `keep`, exit status 1 on failure. The result
 * records which filesystem the run used.
 */
export function runBench(name: string, frame: boolean | BenchFrame, body: (work: string) => Promise<Record<string, unknown>>): void {
  const { keep, scratch = null } = typeof frame === 'boolean' ? { keep: frame } : frame;
  void (async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const tried = scratch ? await mountScratchFs(name, scratch) : null;
    const mounted = tried && 'dir' in tried ? tried : null;
    const work = mounted?.dir ?? (await mkdtemp(join(tmpdir(), `cs-bench-${name}-`)));
    const workFs = mounted ? 'a new ext4 filesystem (journal) in an image file' : `the temp directory's filesystem${tried && 'reason' in tried ? ` (${tried.reason})` : ''}`;
    if (scratch) console.log(`work directory: ${work}, ${workFs}`);
    try {
      console.log(`wrote ${await writeResult(name, { workFs, ...(await body(work)) })}`);
    } finally {
      if (keep && mounted) console.log(`kept: ${work} (umount ${work} && rm -r ${dirname(work)} when done)`);
      else if (mounted) await mounted.release();
      else if (!keep) await rm(work, { recursive: true, force: true });
    }
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
