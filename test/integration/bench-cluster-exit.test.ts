import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processRunning } from '../../bench/lib/proc-cpu.js';
import { repoRoot } from '../../bench/lib/results.js';

describe('a bench script that dies before close()', () => {
  it('leaves no serve process of its cluster running', async () => {
    const cluster = join(repoRoot, 'dist', 'bench', 'lib', 'cluster.js');
    if (!existsSync(cluster)) throw new Error(`${cluster} is missing: run "npm run build" (npm test does it)`);
    const dir = await mkdtemp(join(tmpdir(), 'cs-cluster-exit-'));
    try {
      // Starts the publisher, prints its pid once its control socket answers, then fails.
      const script = join(dir, 'dies.mjs');
      await writeFile(script, [
        `import { LocalCluster } from ${JSON.stringify(cluster)};`,
        `const c = await LocalCluster.create({ dir: ${JSON.stringify(join(dir, 'cluster'))}, followers: 0 });`,
        'c.start(c.publisher);',
        "await c.waitFor('the publisher serving', async () => (await c.status(c.publisher))?.pid === c.publisher.proc.pid, 30000);",
        'console.log(c.publisher.proc.pid);',
        "throw new Error('the script fails before close()');",
      ].join('\n'));
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [script], { timeout: 60_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
      });
      expect(r.stderr).toContain('the script fails before close()');
      expect(r.code).toBe(1);
      const pid = Number(r.stdout.trim());
      expect(pid).toBeGreaterThan(0);
      // SIGKILL is delivered at once; the process may take a moment to be gone.
      const until = Date.now() + 5000;
      while (processRunning(pid) && Date.now() < until) await new Promise((s) => setTimeout(s, 50));
      expect(processRunning(pid)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
