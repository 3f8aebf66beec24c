import { createRequire } from 'node:module';
import type { PublishProgress } from '../index.js';
import { formatBytes } from './format.js';

/** Loaded only where a bar is drawn (a terminal): ~15 ms of every command's start otherwise. */
const require = createRequire(import.meta.url);

/** A progress bar on a TTY, nothing otherwise (logs and --json output stay clean). */
export function publishProgress(enabled: boolean): { update(p: PublishProgress): void; stop(): void } {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{phase} [{bar}] {percentage}% | {done}/{total}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const total = p.bytesTotal || 1;
      const payload = { phase: p.phase.padEnd(11), done: formatBytes(p.bytesDone), total: formatBytes(p.bytesTotal) };
      if (!started) {
        bar.start(total, p.bytesDone, payload);
        started = true;
      } else bar.update(p.bytesDone, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
