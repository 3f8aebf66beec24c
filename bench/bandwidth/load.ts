import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import type { LoadSummary } from './types.js';

/** Above this mean share of all cores busy, the machine rather than the emulated link set the pace. */
export const CPU_BOUND_BUSY = 0.85;

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

function machineTicks(): { busy: number; total: number } {
  // First line of /proc/stat: cpu user nice system idle iowait irq softirq steal ...
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces): [state, ppid, ...]. */
function statFields(pid: number | 'self'): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime + cutime + cstime: the process and its children it has reaped. */
const ticksOf = (f: string[]) => Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);

/**
 * CPU ticks used so far by this process and every process below it (nodes, rsync, webtorrent),
 * including the ones already reaped: a benchmark's own share of the machine.
 */
function ownTicks(): number {
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (!f) continue;
    const pid = Number(name);
    const ppid = Number(f[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    ticks.set(pid, ticksOf(f));
  }
  let sum = ticksOf(statFields('self')!);
  const stack = [...(children.get(process.pid) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    sum += ticks.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return sum;
}

function loadavg1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/**
 * Samples the whole machine once a second while a step runs: every process counts, ours, the
 * baselines' and anything else on the box, because any of them can starve the nodes. The
 * benchmark's own share (this process and all below it) is measured too, to tell which it was.
 */
export class LoadSampler {
  private readonly t0 = performance.now();
  private readonly start = machineTicks();
  private readonly ownStart = ownTicks();
  private last = this.start;
  private peak = 0;
  private loadMax = loadavg1();
  private readonly timer = setInterval(() => this.sample(), 1000);

  private sample(): void {
    const now = machineTicks();
    const dt = now.total - this.last.total;
    if (dt > 0) this.peak = Math.max(this.peak, (now.busy - this.last.busy) / dt);
    this.last = now;
    this.loadMax = Math.max(this.loadMax, loadavg1());
  }

  stop(): LoadSummary {
    clearInterval(this.timer);
    this.sample();
    const end = machineTicks();
    const dt = end.total - this.start.total;
    const cpuBusy = dt > 0 ? (end.busy - this.start.busy) / dt : 0;
    const wall = (performance.now() - this.t0) / 1000;
    const ownCpuSeconds = (ownTicks() - this.ownStart) / CLK_TCK;
    const ownCpu = wall > 0 ? ownCpuSeconds / (wall * cpus().length) : 0;
    return { cpuBusy, ownCpu, ownCpuSeconds, cpuBusyPeak: Math.max(this.peak, cpuBusy), loadavgMax: this.loadMax, cpuBound: cpuBusy >= CPU_BOUND_BUSY };
  }
}
