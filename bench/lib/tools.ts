import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './results.js';

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
    execFileSync(join(repoRoot, 'bench', 'lib', 'apt-install.sh'), [pkg], { stdio: 'ignore' });
  } catch (err) {
    return { ok: false, reason: `${cmd} is not installed and "apt-get install -y ${pkg}" failed: ${(err as Error).message}` };
  }
  return has(cmd) ? { ok: true } : { ok: false, reason: `${cmd} still missing after installing ${pkg}` };
}
