#!/usr/bin/env node
import { EarlyQuery } from './early-query.js';

// `chunkswarm show 1 --tree | head` closes the pipe early: that ends the output, not in a crash.
for (const out of [process.stdout, process.stderr]) {
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

// Sent before the rest of the CLI is loaded: the running node answers while it loads.
const early = EarlyQuery.send(process.argv, process.env);
const { runCli } = await import('./program.js');
await runCli(process.argv, early);
early?.abandon();
