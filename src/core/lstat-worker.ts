import { parentPort } from 'node:worker_threads';
import { lstatJobs, type LstatJob } from './lstat-ahead.js';

// The helper thread of LstatAhead: each message a batch of directories, each answer their lstats.
parentPort?.on('message', (jobs: LstatJob[]) => {
  const out = lstatJobs(jobs);
  parentPort!.postMessage(out, out.map((v) => v.buffer));
});
