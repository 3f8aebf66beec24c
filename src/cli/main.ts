#!/usr/bin/env node
import { Command } from 'commander';
import { CONFIG_FILE } from '../index.js';
import { describeError, exitCodeOf } from './exit-codes.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerServeCommands } from './commands/serve.js';

const program = new Command();
program
  .name('chunkswarm')
  .description('Keep one directory tree identical across a cluster: signed, chunked releases shared peer-to-peer.')
  .option('-c, --config <path>', `node config (env CHUNKSWARM_CONFIG)`, process.env.CHUNKSWARM_CONFIG ?? CONFIG_FILE)
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(s) })
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

const configPath = () => program.opts<{ config: string }>().config;
registerAdminCommands(program, configPath);
registerDeployCommands(program, configPath);
registerServeCommands(program, configPath);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(describeError(err) + '\n');
  process.exit(exitCodeOf(err));
});
