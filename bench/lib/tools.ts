import { execFileSync } from 'node:child_process';

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const APT_LOCK = '/run/lock/chunkswarm-apt.lock';

/**
 * Makes a Debian tool available (we run as root on these machines) or explains why not; never
 * silently: the caller prints the reason and skips that part.
 */
export function ensureTool(cmd: string, pkg = cmd): { ok: true } | { ok: false; reason: string } {
  if (has(cmd)) return { ok: true };
  try {
    // The lock test/support/install-chromium.sh takes too: tests install beside it.
    const apt = 'apt-get -o DPkg::Lock::Timeout=600';
    execFileSync('flock', ['-w', '600', APT_LOCK, 'sh', '-c', `(${apt} install -y ${pkg} || (${apt} update && ${apt} install -y ${pkg}))`], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (err) {
    return { ok: false, reason: `${cmd} is not installed and "apt-get install -y ${pkg}" failed: ${(err as Error).message}` };
  }
  return has(cmd) ? { ok: true } : { ok: false, reason: `${cmd} still missing after installing ${pkg}` };
}
