import { parentPort } from 'node:worker_threads';
import { helpWalk, type HelperWork } from './lstat-ahead.js';

// The helper thread of LstatAhead: each message a walk to help, answered in shared memory.
parentPort?.on('message', (work: HelperWork) => helpWalk(work));
