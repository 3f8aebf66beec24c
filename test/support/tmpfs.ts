import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';

/** A small tmpfs at `dir` (made if missing), so that a test can fill a disk: root only. */
export interface SmallTmpfs {
  mounted: boolean;
  /** Why it could not be mounted: printed when the test skips. */
  reason: string;
  unmount(): void;
}

export async function mountSmallTmpfs(dir: string, size: string, what: string): Promise<SmallTmpfs> {
  await mkdir(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    const why = String((err as { stderr?: Buffer }).stderr ?? err).trim();
    return { mounted: false, reason: `cannot mount a small tmpfs (${why}); ${what} skipped`, unmount: () => undefined };
  }
  return { mounted: true, reason: '', unmount: () => execFileSync('umount', ['-l', dir]) };
}
