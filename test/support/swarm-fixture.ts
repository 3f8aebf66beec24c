/**
 * Swarm-specific test helper: runs test/support/swarm-node.ts in a child process (its compiled
 * form under dist/, so `tsc` must have run) with the net guard loaded, and talks to it over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NET_GUARD_REPORT_ENV, type NetGuardReport } from './net-guard-report.js';
import type { FixtureMessage, IntruderConfig, MemberConfig } from './swarm-node.js';

const here = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
// Works from test/support (vitest) and from dist/test/support (compiled).
const distRoot = here.endsWith('/dist') ? here : `${here}/dist`;
export const repoRoot = distRoot.slice(0, -'/dist'.length);

export function compiled(rel: string): string {
  const path = `${distRoot}/${rel}`;
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npx tsc -p tsconfig.json\` first (npm test does)`);
  return path;
}

type State = Extract<FixtureMessage, { type: 'state' }>;

export class ChildNode {
  readonly messages: Array<{ from: string; text: string }> = [];
  readonly ready: Promise<string>;
  private readonly child: ChildProcess;
  private exited: string | null = null;
  private stateWaiters: Array<{ resolve: (s: State) => void; reject: (e: Error) => void }> = [];

  constructor(config: MemberConfig | IntruderConfig, readonly reportPath: string) {
    this.child = fork(compiled('test/support/swarm-node.js'), [JSON.stringify(config)], {
      execArgv: ['--import', compiled('test/support/net-guard.js')],
      env: { ...process.env, [NET_GUARD_REPORT_ENV]: reportPath },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `${config.name} exited (code ${code}, signal ${signal})`;
      for (const waiter of this.stateWaiters.splice(0)) waiter.reject(new Error(this.exited));
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (msg: FixtureMessage) => {
        if (msg.type === 'ready') resolve(msg.publicKey);
        else if (msg.type === 'message') this.messages.push({ from: msg.from, text: msg.text });
        else this.stateWaiters.shift()?.resolve(msg);
      });
      this.child.once('exit', () => reject(new Error(this.exited ?? 'exited')));
    });
  }

  state(): Promise<State> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      this.stateWaiters.push({ resolve, reject });
      this.child.send({ type: 'state' });
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exit = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  guardReport(): NetGuardReport {
    return JSON.parse(readFileSync(this.reportPath, 'utf8')) as NetGuardReport;
  }
}

/** Polls `check` until it returns true; throws with `describe()` after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describe: () => Promise<string>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${await describe()}`);
}
