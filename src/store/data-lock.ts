import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';

interface Holder {
  pid: number;
  /** The holder's start time as the kernel counts it (Linux), so a reused pid is not taken for it. */
  started: string | null;
  command: string;
  since: string;
}

/** This process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), if known. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * The lock a publish or republish holds, whoever runs it (`serve` or a command): two at once would
 * each take the next version and build it in the same staging directory.
 */
export const PUBLISH_LOCK = { file: 'publish.lock', busy: 'one publish at a time: wait for it to end' };

/** Whether a process with this pid exists (one of another user counts). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function alive(h: Holder): boolean {
  if (!pidAlive(h.pid)) return false;
  const now = startTimeOf(h.pid);
  return h.started === null || now === null || now === h.started;
}

/**
 * One process at a time owns a data directory: two `serve`s on one dataDir would stage, activate
 * and collect garbage under each other. The lock is a file naming its holder; a holder that died
 * (kill -9, a crash) leaves a stale file that the next process takes over. A lock of another
 * `file` guards one job only (PUBLISH_LOCK: two publishes would sign two trees as one version).
 */
export class DataLock {
  private constructor(private readonly path: string) {}

  static path(dataDir: string, file = 'lock'): string {
    return join(dataDir, file);
  }

  /**
   * E_LOCKED (naming the holder) if a live process holds the directory (or, with `o.file`, that
   * lock); `o.busy` is the advice the error ends with.
   */
  static async acquire(dataDir: string, command: string, o: { file?: string; busy?: string } = {}): Promise<DataLock> {
    const path = DataLock.path(dataDir, o.file);
    const me: Holder = { pid: process.pid, started: startTimeOf(process.pid), command, since: new Date().toISOString() };
    await mkdir(dataDir, { recursive: true }).catch((err) => {
      throw ChunkswarmError.fromSystem(err, `creating the data directory ${dataDir}`);
    });
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await open(path, 'wx', 0o644);
        try {
          await fh.writeFile(JSON.stringify(me) + '\n');
        } finally {
          await fh.close();
        }
        return new DataLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ChunkswarmError.fromSystem(err, `locking ${dataDir}`);
      }
      const holder = await DataLock.holder(dataDir, o.file);
      if (holder && alive(holder)) {
        throw new ChunkswarmError(
          'E_LOCKED',
          `${dataDir} is in use by chunkswarm ${holder.command} (pid ${holder.pid}, since ${holder.since}); ` +
            (o.busy ?? 'one process per data directory: stop it first, or give this node its own dataDir'),
        );
      }
      // Stale (or unreadable, e.g. torn by a crash mid-write): take it over, once.
      if (attempt > 0) throw new ChunkswarmError('E_LOCKED', `cannot take over the stale lock ${path}: another process keeps recreating it`);
      await unlink(path).catch(() => undefined);
    }
  }

  /** `fn` run while this process holds the lock (see acquire), which is let go however it ends. */
  static async holding<R>(dataDir: string, command: string, fn: () => Promise<R>, o: { file?: string; busy?: string } = {}): Promise<R> {
    const lock = await DataLock.acquire(dataDir, command, o);
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  }

  /** Who holds the directory now, or null (no lock file, or one that cannot be read). */
  static async holder(dataDir: string, file?: string): Promise<Holder | null> {
    try {
      const h = JSON.parse(await readFile(DataLock.path(dataDir, file), 'utf8')) as Holder;
      return Number.isInteger(h.pid) ? h : null;
    } catch {
      return null;
    }
  }

  async release(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}
