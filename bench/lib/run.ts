import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { inHost, type NetHost } from './netns.js';
import { repoRoot } from './results.js';

export const CLI = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** Runs a command, returning stdout and the wall time in seconds; throws with stderr on failure. */
export function timed(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<{ stdout: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: opts.cwd, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve({ stdout, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** The chunkswarm CLI; with `host`, inside that host's network namespace (bench --netns). */
export function cli(args: string[], opts: { cwd?: string; host?: NetHost | undefined } = {}) {
  const [cmd, ...argv] = inHost(opts.host, [process.execPath, CLI, ...args]);
  return timed(cmd!, argv, opts);
}
