import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
}

const TICKS = clockTicks();

/**
 * The fields of /proc/<pid>/stat after the command name (which is in parentheses and may contain
 * spaces): [0] the state, [11] utime, [12] stime, [13] cutime, [14] cstime. Null once the process
 * is gone (or not Linux).
 */
export function statFields(pid: number | 'self'): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** A running process (a zombie, killed and not yet reaped, is not). */
export function processRunning(pid: number): boolean {
  const f = statFields(pid);
  return f !== null && f[0] !== 'Z';
}

/** utime + stime of every thread of the process, in ticks; null once it is gone (or not Linux). */
function cpuTicks(pid: number): number | null {
  const f = statFields(pid);
  return f && Number(f[11]) + Number(f[12]);
}

/** CPU seconds (user + system) a running process has used so far; null once it is gone. */
export function processCpuSeconds(pid: number): number | null {
  const t = cpuTicks(pid);
  return t === null ? null : t / TICKS;
}

/** What `job` resolves to, and the CPU seconds process `pid` used meanwhile (null without a pid, or once the process is gone). */
export async function cpuDuring<T>(pid: number | undefined, job: () => Promise<T>): Promise<{ result: T; cpuSeconds: number | null }> {
  const before = pid === undefined ? null : processCpuSeconds(pid);
  const result = await job();
  const after = pid === undefined ? null : processCpuSeconds(pid);
  return { result, cpuSeconds: before === null || after === null ? null : after - before };
}

/**
 * CPU seconds (user + system) of the children this process has reaped so far (cutime + cstime of
 * /proc/self/stat); null where there is no /proc. The difference across one command is that
 * command's CPU, where nothing else this process started ends meanwhile: a figure that moves far
 * less than wall time on a machine whose speed swings from hour to hour.
 */
export function reapedChildrenCpuSeconds(): number | null {
  const f = statFields('self');
  return f && (Number(f[13]) + Number(f[14])) / TICKS;
}

/** Busy ticks of the whole machine (every core, every process: other work on a shared box too). */
function machineTicks(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    return f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
  } catch {
    return null;
  }
}

/** The key under which CpuSampler keeps the whole machine's busy time. */
export const MACHINE = 0;

/**
 * Samples the CPU time of some processes (all their threads: the libuv pool's file I/O and
 * hashing count too, unlike in a --cpu-prof of the main thread), to tell afterwards how busy
 * each was between two wall-clock moments, e.g. the timestamps of two log lines.
 */
export class CpuSampler {
  private readonly samples = new Map<number, Array<{ at: number; ticks: number }>>();
  private readonly timer: NodeJS.Timeout;

  constructor(pids: number[], everyMs = 100) {
    for (const pid of [MACHINE, ...pids]) this.samples.set(pid, []);
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  /** Samples these processes too from now on (a node started later). */
  track(pids: number[]): void {
    for (const pid of pids) if (!this.samples.has(pid)) this.samples.set(pid, []);
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** CPU seconds the process (or MACHINE: all of them) used from `from` to `to` (Date.now() times), from the nearest samples. */
  cpuSeconds(pid: number, from: number, to: number): number | null {
    const s = this.samples.get(pid) ?? [];
    const near = (t: number) => s.reduce<{ at: number; ticks: number } | null>((best, x) => (!best || Math.abs(x.at - t) < Math.abs(best.at - t) ? x : best), null);
    const a = near(from);
    const b = near(to);
    return a && b && b.at > a.at ? (b.ticks - a.ticks) / TICKS : null;
  }

  private sample(): void {
    const at = Date.now();
    for (const [pid, list] of this.samples) {
      const t = pid === MACHINE ? machineTicks() : cpuTicks(pid);
      if (t !== null) list.push({ at, ticks: t });
    }
  }
}
