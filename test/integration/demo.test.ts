import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../bench/lib/results.js';

const FOLLOWERS = 3;

function runDemo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'dist', 'bench', 'demo.js'), ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('npm run demo (small and without a terminal)', () => {
  it('runs three releases to every follower, shows the preserved hand edit and a complete summary, and cleans up', async () => {
    const r = await runDemo(['--files', '40', '--mb', '8', '--followers', String(FOLLOWERS)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = r.stdout;
    for (const step of ['0. setting up', '1. publishing release 1', '2. publishing release 2', '3. a sysadmin hot-fixes']) expect(out).toContain(step);
    // The plain (non-TTY) progress log: one line per follower going live, three releases.
    expect(out.match(/\] follower-\d+ is live/g)).toHaveLength(3 * FOLLOWERS);
    expect(out).toMatch(/WARNING: live release 2 differs from its release: 1 modified/);
    expect(out).toMatch(/ends with:\s+MaxClients 512 +# hotfix/);
    expect(out).toMatch(/clean: the live tree matches its release/);

    // Summary rows: node, live, seconds for releases 1..3, MB from publisher, MB from peers, MB sent.
    const summary = out.slice(out.indexOf('Summary'));
    const num = '(\\d+\\.\\d)';
    for (let i = 1; i <= FOLLOWERS; i++) {
      const row = summary.match(new RegExp(`^\\s+follower-${i}\\s+3\\s+${num}\\s+${num}\\s+${num}\\s+${num}\\s+${num}\\s+${num}\\s*$`, 'm'));
      expect(row, `summary row of follower-${i}\n${summary}`).not.toBeNull();
      const [fromPublisher, fromPeers] = [Number(row![4]), Number(row![5])];
      expect(fromPublisher + fromPeers).toBeGreaterThanOrEqual(8);
    }
    expect(summary).toMatch(/^\s+publisher\s+3\s/m);
    expect(summary).toMatch(/publisher egress: [\d.]+ MB for all 3 releases = [\d.]+×\s+the\s+image\s+size/);
    expect(summary).toContain('every follower runs release 3');

    const work = out.match(/under (\S+chunkswarm-demo-\w+);/)?.[1];
    expect(work).toBeDefined();
    expect(existsSync(work!)).toBe(false);
  }, 150_000);
});
