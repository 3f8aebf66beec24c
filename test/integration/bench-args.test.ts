import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../bench/lib/results.js';

/** Every entry point of bench/ (npm run demo, bench, bench:*, sim, and the profile reader): its top-level scripts. */
const ENTRY_POINTS = readdirSync(join(repoRoot, 'bench')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));

function run(name: string, args: string[]) {
  const file = join(repoRoot, 'dist', 'bench', `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" (npm test does it)`);
  return spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('the benches read their command line alike', () => {
  it('finds the entry points', () => expect(ENTRY_POINTS).toEqual(expect.arrayContaining(['demo', 'bandwidth', 'deploy', 'seed', 'sim', 'transfer'])));

  it.each(ENTRY_POINTS)('%s: --help prints its usage and exits 0; an unknown option is named, with the usage, exit 2, no stack trace', (name) => {
    const help = run(name, ['--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^(usage: )?(npm run|node dist\/bench\/)/);
    const bad = run(name, ['--no-such-option']);
    expect(bad.status, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/Unknown option '--no-such-option'/);
    expect(bad.stderr).toContain(help.stdout.trim());
    expect(bad.stderr).not.toMatch(/^\s+at /m);
  });
});
