import { readdirSync, readlinkSync } from 'node:fs';

/** This process's open file descriptors on paths under `dir` (Linux /proc). */
export function openFdsUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false;
    }
  });
}
