import { parentPort } from 'node:worker_threads';
import { copyBatch, type SmallCopy } from './copy-workers.js';

// A worker thread of copySmallFiles: each message a batch, each answer its outcomes.
parentPort?.on('message', (batch: SmallCopy[]) => parentPort!.postMessage(copyBatch(batch)));
