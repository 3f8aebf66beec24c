/**
 * What every command pays before it starts: the commands that need no swarm must not load its
 * libraries (hyperdht and hyperswarm took a command's start from 0.20 to 0.30 s, and the test
 * suite, which runs the CLI hundreds of times, from ~300 to ~360 s).
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.js';

const HOOK = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'test', 'support', 'loaded-packages.js');

function packagesLoadedBy(args: string[]): string[] {
  const { stderr } = spawnSync(process.execPath, ['--import', HOOK, CLI, ...args], { encoding: 'utf8' });
  const line = stderr.split('\n').find((l) => l.startsWith('LOADED-PACKAGES '));
  expect(line, stderr).toBeDefined();
  return JSON.parse(line!.slice('LOADED-PACKAGES '.length)) as string[];
}

describe("the CLI's start", () => {
  it('loads none of the swarm libraries for a command that needs no swarm', () => {
    for (const args of [['--version'], ['init', '--help'], ['join', '--help'], ['verify', '--help']]) {
      const loaded = packagesLoadedBy(args);
      for (const lib of ['hyperdht', 'hyperswarm', '@hyperswarm/secret-stream', 'bittorrent-protocol']) expect(loaded, args.join(' ')).not.toContain(lib);
    }
  });
});
