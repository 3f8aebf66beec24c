import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { CHROMIUM } from './chromium.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the Chromium install started by the global setup logs and, once done, leaves its exit status; null: none started. */
    chromiumInstall: string | null;
  }
}

/**
 * Once per test run: what the tests need beyond npm, installed by the project's own script, so
 * that `npm test` works on a fresh machine. Chromium takes ~40 s to install there: it installs
 * beside the tests, and only the test that drives it waits (launchChromium). Where it cannot be
 * installed, that test fails with the reason.
 */
export default function setup(project: TestProject): void {
  if (existsSync(CHROMIUM)) return project.provide('chromiumInstall', null);
  const script = fileURLToPath(new URL('./install-chromium.sh', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'cs-chromium-install-'));
  spawn('bash', ['-c', 'bash "$0" >"$1/log" 2>&1; echo $? >"$1/status.tmp" && mv "$1/status.tmp" "$1/status"', script, dir], {
    detached: true,
    stdio: 'ignore',
  }).unref();
  project.provide('chromiumInstall', dir);
}
