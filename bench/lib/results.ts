import { mkdir, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';

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

/**
 * The frame every benchmark shares: a temp work dir, the JSON result written (and its path
 * printed), the dir removed unless `keep`, exit status 1 on failure.
 */
export function runBench(name: string, keep: boolean, body: (work: string) => Promise<Record<string, unknown>>): void {
  void (async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const work = await mkdtemp(join(tmpdir(), `cs-bench-${name}-`));
    try {
      console.log(`wrote ${await writeResult(name, await body(work))}`);
    } finally {
      if (!keep) await rm(work, { recursive: true, force: true });
    }
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
