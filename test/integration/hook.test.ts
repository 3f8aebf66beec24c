import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { hookFailure, runHook } from '../../src/deploy/hook.js';

/** Running, that is: neither gone nor a zombie waiting for whoever inherited it to reap it. */
const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

/** Hooks are real shell commands in real processes. */
describe('runHook', () => {
  it('passes the exit status, the output and the environment through', async () => {
    const r = await runHook('echo "v=$CHUNKSWARM_VERSION"; echo oops >&2; exit 3', { CHUNKSWARM_VERSION: '7' }, tmpdir(), { timeoutMs: 10_000 });
    expect(r).toEqual({ command: expect.any(String), code: 3, output: 'v=7\noops\n' });
    expect(hookFailure('postActivate', r, 10_000)).toBe('postActivate hook exited 3');
  });

  it('kills a hook that runs past its time, with every process it started', async () => {
    const started = Date.now();
    // The background child keeps the output pipe open: killing the shell alone would wait on it.
    const r = await runHook('sleep 60 & echo $!; wait', {}, tmpdir(), { timeoutMs: 500 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.killed).toBe('timedOut');
    expect(r.code).toBe(128 + 15);
    const child = Number(r.output.trim());
    expect(child).toBeGreaterThan(0);
    expect(alive(child)).toBe(false);
    expect(hookFailure('preActivate', r, 500)).toMatch(/did not end within 1 s \(hooks.timeoutSec\) and was killed/);
  });

  it('kills a running hook when the node stops', async () => {
    const stop = new AbortController();
    const running = runHook('sleep 60', {}, tmpdir(), { timeoutMs: 60_000, signal: stop.signal });
    setTimeout(() => stop.abort(), 200);
    const r = await running;
    expect(r.killed).toBe('stopped');
    expect(hookFailure('postActivate', r, 60_000)).toBe('postActivate hook was killed: the node is stopping');
  });
});
