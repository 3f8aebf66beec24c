import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHROMIUM } from './chromium.js';

/**
 * Once per test run: what the tests need beyond npm, installed by the project's own script, so
 * that `npm test` works on a fresh machine. Where it cannot be installed, the test that needs it
 * fails with the reason (test/support/chromium.ts).
 */
export default function setup(): void {
  if (existsSync(CHROMIUM)) return;
  const script = fileURLToPath(new URL('./install-chromium.sh', import.meta.url));
  try {
    execFileSync('bash', [script], { stdio: 'inherit', timeout: 600_000 });
  } catch (err) {
    console.warn(`could not install Chromium (${(err as Error).message}); the dashboard test will fail and say how to install it`);
  }
}
