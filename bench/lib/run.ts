import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { inHost, type NetHost } from './netns.js';
import { reapedChildrenCpuSeconds } from './proc-cpu.js';
import { repoRoot } from './results.js';

/** The CLI as `npm run build` bundles it (what the package's bin runs). */
export const CLI = join(repoRoot, 'dist', 'bundle', 'cli', 'chunkswarm.js');

/**
 * Runs a command, returning stdout, the wall time and the command's CPU time (user + system, of
 * all its threads and children: see reapedChildrenCpuSeconds; null without /proc), in seconds;
 * throws with stderr on failure.
 */
export function timed(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<{ stdout: string; seconds: number; cpuSeconds: number | null }> {
  const t0 = performance.now();
  const c0 = reapedChildrenCpuSeconds();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: opts.cwd, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      const c1 = reapedChildrenCpuSeconds();
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve({ stdout, seconds: (performance.now() - t0) / 1000, cpuSeconds: c0 === null || c1 === null ? null : c1 - c0 });
    });
  });
}

/** ", CPU x s" for a step timed with its CPU (timed, cli); nothing where that is unknown. */
export function cpuNote(step: { cpuSeconds: number | null }): string {
  return step.cpuSeconds === null ? '' : `, CPU ${step.cpuSeconds.toFixed(2)} s`;
}

/**
 * Runs the CLI; with `host`, inside that host's network namespace (bench --netns). With
 * BENCH_PROFILE_DIR set, a call given a `profile` name writes a CPU profile there
 * (<name>.cpuprofile; summarise it with `node dist/bench/profile-top.js`).
 */
export function cli(args: string[], opts: { cwd?: string; profile?: string; host?: NetHost | undefined } = {}) {
  const dir = process.env.BENCH_PROFILE_DIR;
  const prof = dir && opts.profile ? ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${opts.profile}.cpuprofile`] : [];
  const [cmd, ...argv] = inHost(opts.host, [process.execPath, ...prof, CLI, ...args]);
  return timed(cmd!, argv, opts);
}

/**
 * Writes back every dirty page before a timed step: chunkswarm makes a release durable with one
 * syncfs, which would otherwise also pay for the writeback of whatever the step before left dirty
 * (the rsync or cp it is compared with, hundreds of MB), and rsync and cp never wait for theirs.
 */
export function settleWriteback(): void {
  execFileSync('sync');
}
