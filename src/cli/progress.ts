import cliProgress from 'cli-progress';
import type { PublishProgress } from '../index.js';
import { formatBytes } from './format.js';

/** A progress bar on a TTY, nothing otherwise (logs and --json output stay clean). */
export function publishProgress(enabled: boolean): { update(p: PublishProgress): void; stop(): void } {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
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
