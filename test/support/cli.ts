import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { existsSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Tests run the CLI as users get it (the bundle `npm run build` makes) as a real process; `npm test` builds first. */
export const CLI = join(root, 'dist', 'bundle', 'cli', 'chunkswarm.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** A command that runs the rest of its arguments as another user (see dropPrivileges). */
  as?: string[];
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it)`);
  const [file, ...argv] = [...(opts.as ?? []), process.execPath, CLI, ...args];
  return new Promise((resolve) => {
    execFile(file!, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function runCliJson<T>(args: string[], opts: { cwd?: string } = {}): Promise<T> {
  const r = await runCli([...args, '--json'], opts);
  if (r.code !== 0) throw new Error(`chunkswarm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * The command prefix that runs a program as an unprivileged user (uid/gid 65534, "nobody"), or why
 * there is none: the tests run as root, a service user is not.
 */
export function dropPrivileges(uid = 65534, gid = 65534): { as: string[] } | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'not running as root: cannot switch to another user' };
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (existsSync(join(dir, 'setpriv'))) return { as: [join(dir, 'setpriv'), `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'] };
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin']) {
    if (existsSync(join(dir, 'runuser'))) return { as: [join(dir, 'runuser'), '-u', 'nobody', '--'] };
  }
  return { skip: 'neither setpriv nor runuser is installed' };
}
