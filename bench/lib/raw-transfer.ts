import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startBootstrapNode } from '../../src/swarm/index.js';
import { CpuSampler, MACHINE } from './proc-cpu.js';
import { repoRoot } from './results.js';
import type { PumpResult } from './stream-pump.js';

const PUMP = join(repoRoot, 'dist', 'bench', 'lib', 'stream-pump.js');

/** Resolves with the first JSON line of the child's stdout that has `key`; rejects if it exits first. */
function lineWith<T>(child: ChildProcess, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    rl.on('line', (line) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (key in o) resolve(o as T);
    });
    child.once('exit', (code) => reject(new Error(`stream-pump exited (${code}) before reporting ${key}: ${stderr.slice(-2000)}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  return exited;
}

export interface RawTransferResult extends PumpResult {
  /** CPU seconds (all threads) of each end and of the whole machine between first and last byte. */
  cpu: { sender: number | null; receiver: number | null; machine: number | null };
}

export type RawMode = 'swarm' | 'hyperswarm' | 'tcp' | 'tcp-files';

/**
 * One-way transfer of `bytes` between two processes on loopback (see stream-pump.ts for the
 * modes); the hyperswarm ones with their own local DHT bootstrap node. 'tcp-files' writes into
 * `sink.files` files in the new directory `sink.dir`.
 */
export async function rawTransfer(mode: RawMode, bytes: number, sink?: { dir: string; files: number }): Promise<RawTransferResult> {
  if (mode === 'tcp-files' && !sink) throw new Error('tcp-files needs a directory and a file count');
  if (sink) await mkdir(sink.dir);
  const boot = await startBootstrapNode();
  const secret = randomBytes(32).toString('hex');
  let port = boot.port;
  const args = (role: string) => [PUMP, mode, role, String(port), String(bytes), secret, ...(sink ? [sink.dir, String(sink.files)] : [])];
  const children: ChildProcess[] = [];
  let cpu: CpuSampler | null = null;
  try {
    const recv = spawn(process.execPath, args('recv'), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(recv);
    const result = lineWith<PumpResult>(recv, 'bytes');
    result.catch(() => undefined);
    const ready = await lineWith<{ port?: number }>(recv, 'ready');
    if (mode.startsWith('tcp')) port = ready.port!;
    const send = spawn(process.execPath, args('send'), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(send);
    send.once('exit', (code) => { if (code) void stop(recv); });
    const sampler = (cpu = new CpuSampler([send.pid!, recv.pid!], 50));
    // Generous: 1 MB/s plus a minute of setup, so that a lost connection fails the run instead of hanging it.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_ok, fail) => {
      timer = setTimeout(() => fail(new Error(`raw ${mode} transfer of ${bytes} bytes did not finish`)), 60_000 + bytes / 1000);
    });
    const r = await Promise.race([result, timeout]).finally(() => clearTimeout(timer));
    await new Promise((ok) => setTimeout(ok, 120)); // one more CPU sample past the last byte
    const of = (pid: number) => sampler.cpuSeconds(pid, r.firstAt, r.lastAt);
    return { ...r, cpu: { sender: of(send.pid!), receiver: of(recv.pid!), machine: of(MACHINE) } };
  } finally {
    cpu?.stop();
    await Promise.all(children.map(stop));
    await boot.close();
  }
}
