import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTool } from './tools.js';

/** A work directory on a filesystem of its own, and how to give it back. */
export interface ScratchFs {
  dir: string;
  /** Unmounts the filesystem and deletes its image (nothing left to unlink file by file). */
  release(): Promise<void>;
}

export interface ScratchFsOptions {
  /** Inodes the filesystem holds: every file of every copy of the tree the bench makes. */
  inodes: number;
  /** Apparent size of the image (sparse: only what the bench writes takes disk). */
  bytes: number;
}

export const DEFAULT_SCRATCH: ScratchFsOptions = { inodes: 1_000_000, bytes: 32 * 2 ** 30 };

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Why a bench puts its files on a new ext4 (with a journal, as a server's disk has) in an image
 * file: these VMs' root filesystem is ext4 without a journal, and there the kernel's inode allocator
 * passes over every inode freed in the last 1 to 6 minutes (`recently_deleted`, checked only
 * without a journal), a buffer lookup each. Right after a run deleted its 10^5-file trees, creating
 * a file cost 180–780 µs of kernel time instead of 18 µs (`perf`: `ext4_create` → `find_inode_bit`
 * → `recently_deleted`), so every run that creates files measured how recently the one before it
 * had deleted some: rsync's cold pull of the same tree took 6 s in one run and 22–29 s in the next.
 * A fresh filesystem has nothing recently freed, and unmounting it frees the run's trees without
 * an unlink each. Needs root, a loop device and mkfs.ext4; returns why not otherwise.
 */
export async function mountScratchFs(name: string, o: ScratchFsOptions = DEFAULT_SCRATCH): Promise<ScratchFs | { reason: string }> {
  if (process.getuid?.() !== 0) return { reason: 'mounting a filesystem of its own needs root' };
  const tool = ensureTool('mkfs.ext4', 'e2fsprogs');
  if (!tool.ok) return { reason: tool.reason };
  const home = await mkdtemp(join(tmpdir(), `cs-bench-${name}-fs-`));
  const image = join(home, 'ext4.img');
  const dir = join(home, 'mnt');
  try {
    await writeFile(image, '');
    await truncate(image, o.bytes);
    // Inode tables and journal written now, not by the kernel's lazy-init thread during the run.
    run('mkfs.ext4', ['-q', '-F', '-N', String(o.inodes), '-E', 'lazy_itable_init=0,lazy_journal_init=0,nodiscard', image]);
    await mkdir(dir);
    run('mount', ['-o', 'loop', image, dir]);
    // Those zeroed tables reach the disk before the run, not in the writeback of its first seconds.
    run('sync', ['-f', image]);
  } catch (err) {
    await rm(home, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return { reason: `making an ext4 filesystem in ${image} failed: ${stderr || (err as Error).message}` };
  }
  return {
    dir,
    release: async () => {
      try {
        run('umount', [dir]);
      } catch {
        // A process of the run still holds a file there: detach now, the kernel frees it when it ends.
        run('umount', ['-l', dir]);
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}
