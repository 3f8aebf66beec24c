import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { CONFIG_FILE } from '../client.js';
import { describeError, exitCodeOf } from './exit-codes.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerFleetCommands } from './commands/fleet.js';
import { registerMembershipCommands } from './commands/membership.js';
import { registerServeCommands } from './commands/serve.js';
import type { EarlyQuery } from './early-query.js';

/** The whole CLI: every command, parsed by commander; `early` is the query main.ts sent, if any. */
export async function runCli(argv: string[], early: EarlyQuery | null): Promise<void> {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

  const program = new Command();
  program
    .name('chunkswarm')
    .version(version, '-V, --version', 'print the version')
    .description('Keep one directory tree identical across a cluster: signed, chunked releases shared peer-to-peer.')
    .option('-c, --config <path>', `node config (env CHUNKSWARM_CONFIG)`, process.env.CHUNKSWARM_CONFIG ?? CONFIG_FILE)
    .showHelpAfterError()
    .configureOutput({ outputError: (s, write) => write(s) })
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    });

  const configPath = () => program.opts<{ config: string }>().config;
  registerAdminCommands(program, configPath, early);
  registerDeployCommands(program, configPath, early);
  registerServeCommands(program, configPath, early);
  registerFleetCommands(program, configPath);
  registerMembershipCommands(program, configPath);

  await program.parseAsync(argv).catch((err: unknown) => {
    process.stderr.write(describeError(err) + '\n');
    process.exit(exitCodeOf(err));
  });
}
