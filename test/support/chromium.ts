import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { inject } from 'vitest';

/** Debian's Chromium; test/support/install-chromium.sh installs it (global-setup.ts starts it when missing). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * A real headless Chromium with a fresh profile, driven by playwright-core, that talks to nothing
 * but what the page asks for (no sync, no component updates, no background requests).
 */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  await installed();
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package with "apt-get install -y chromium" (test/support/install-chromium.sh does it), or set CHROMIUM_PATH`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'cs-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1400, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Waits for the install the global setup started, if any; an install that failed says why. */
async function installed(): Promise<void> {
  const dir = inject('chromiumInstall');
  if (!dir || existsSync(CHROMIUM)) return;
  const deadline = Date.now() + INSTALL_WAIT_MS;
  while (!existsSync(join(dir, 'status'))) {
    if (Date.now() > deadline) throw new Error(`Chromium's install (test/support/install-chromium.sh) still runs after ${INSTALL_WAIT_MS / 60_000} minutes; its log: ${join(dir, 'log')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const status = (await readFile(join(dir, 'status'), 'utf8')).trim();
  if (status !== '0') {
    const log = (await readFile(join(dir, 'log'), 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n');
    throw new Error(`installing Chromium failed (test/support/install-chromium.sh exited ${status}):\n${log}`);
  }
}

/** apt-get update and the install of chromium took ~40 s on a fresh machine. */
export const INSTALL_WAIT_MS = 5 * 60_000;
