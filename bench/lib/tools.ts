import { execFileSync } from 'node:child_process';

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes a Debian tool available (we run as root on these machines) or explains why not; never
 * silently: the caller prints the reason and skips that part.
 */
export function ensureTool(cmd: string, pkg = cmd): { ok: true } | { ok: false; reason: string } {
  if (has(cmd)) return { ok: true };
  try {
    execFileSync('sh', ['-c', `(apt-get install -y ${pkg} || (apt-get update && apt-get install -y ${pkg}))`], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (err) {
    return { ok: false, reason: `${cmd} is not installed and "apt-get install -y ${pkg}" failed: ${(err as Error).message}` };
  }
  return has(cmd) ? { ok: true } : { ok: false, reason: `${cmd} still missing after installing ${pkg}` };
}
