import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { ChunkswarmError } from '../core/index.js';

export interface HookResult {
  command: string;
  /** Exit status; 128 + n when killed by signal n. */
  code: number;
  /** stdout and stderr interleaved, the last 64 KiB. */
  output: string;
  /** Killed because it ran past its time (`timedOut`) or because the node is stopping (`stopped`). */
  killed?: 'timedOut' | 'stopped';
}

export interface HookLimits {
  /** Killed after this long (hooks.timeoutSec). */
  timeoutMs: number;
  /** Killed when this aborts: the node is stopping. */
  signal?: AbortSignal;
}

const OUTPUT_LIMIT = 64 * 1024;
/** From SIGTERM to SIGKILL for a hook that ignores the first. */
const KILL_GRACE_MS = 5000;

/**
 * Runs a configured hook through /bin/sh -c, in the config's directory, in a process group of its
 * own: a hook that hangs (a reload waiting on a stuck service) is killed with everything it
 * started once it runs past `timeoutMs` or the node stops, instead of holding the node in its
 * activation step for good. Killing the shell alone would not do: a child it left running keeps
 * the output pipe open.
 */
export function runHook(command: string, env: Record<string, string>, cwd: string, limits: HookLimits): Promise<HookResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    let killed: HookResult['killed'];
    const take = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // The group is gone already.
      }
    };
    let grace: NodeJS.Timeout | undefined;
    const kill = (why: NonNullable<HookResult['killed']>) => {
      if (killed) return;
      killed = why;
      signalGroup('SIGTERM');
      grace = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => kill('timedOut'), limits.timeoutMs);
    const onAbort = () => kill('stopped');
    if (limits.signal?.aborted) onAbort();
    else limits.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err) => reject(ChunkswarmError.fromSystem(err, `running hook ${command}`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(grace);
      limits.signal?.removeEventListener('abort', onAbort);
      resolve({ command, code: code ?? 128 + (signal ? constants.signals[signal] : 0), output, ...(killed && { killed }) });
    });
  });
}

/** Why a hook failed, in words: its exit status, or that it was killed and why. */
export function hookFailure(name: string, r: HookResult, timeoutMs: number): string {
  if (r.killed === 'timedOut') return `${name} hook did not end within ${Math.round(timeoutMs / 1000)} s (hooks.timeoutSec) and was killed`;
  if (r.killed === 'stopped') return `${name} hook was killed: the node is stopping`;
  return `${name} hook exited ${r.code}`;
}
