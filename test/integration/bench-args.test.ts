import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../bench/lib/results.js';

/** Every entry point of bench/ (npm run demo, bench, bench:*, sim, and the profile reader): its top-level scripts. */
const ENTRY_POINTS = readdirSync(join(repoRoot, 'bench')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));

function run(name: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const file = join(repoRoot, 'dist', 'bench', `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" (npm test does it)`);
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

describe('the benches read their command line alike', () => {
  it('finds the entry points', () => expect(ENTRY_POINTS).toEqual(expect.arrayContaining(['demo', 'bandwidth', 'deploy', 'seed', 'sim', 'transfer'])));

  it.concurrent.each(ENTRY_POINTS)('%s: an unknown option is named, with the usage, exit 2, no stack trace', async (name) => {
    const bad = await run(name, ['--no-such-option']);
    expect(bad.status, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/^Unknown option '--no-such-option'/);
    expect(bad.stderr).toMatch(/\n\n(usage: )?(npm run|node dist\/bench\/)/);
    expect(bad.stderr).not.toMatch(/^\s+at /m);
  });

  // The two that answered --help with a stack trace before they used the shared reader.
  it.concurrent.each(['publish', 'flood'])('%s: --help prints the usage that an unknown option shows, exit 0', async (name) => {
    const [help, bad] = await Promise.all([run(name, ['--help']), run(name, ['--no-such-option'])]);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout.trim().length).toBeGreaterThan(0);
    expect(bad.stderr).toContain(help.stdout.trim());
  });
});
