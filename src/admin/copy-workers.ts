import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ChunkswarmError, type ErrorCode } from '../core/index.js';
import type { FileObject } from '../manifest/index.js';
import { copySmallUnlessSame, type CopyResult } from './copy-and-hash.js';

/** A small file to hash and copy (copySmallUnlessSame's arguments). */
export interface SmallCopy {
  src: string;
  dest: string;
  displayPath: string;
  previous: FileObject | null;
}

/** What a batch's file came to: copied or not, grown past the small size (null), or the error that stopped the batch. */
type SmallOutcome = { done: CopyResult | null } | { error: { code: ErrorCode; message: string } };

/** Files per message: a message costs ~50 µs each way, a small file ~50 µs to copy. */
const BATCH = 128;
/** Below this many small files a worker's start (~40 ms) is not worth it. */
const MIN_FILES_FOR_WORKERS = 2_000;

/** Runs a batch, stopping at its first error (the publish fails on it anyway). */
export function copyBatch(batch: readonly SmallCopy[]): SmallOutcome[] {
  const out: SmallOutcome[] = [];
  for (const c of batch) {
    try {
      out.push({ done: copySmallUnlessSame(c.src, c.dest, c.displayPath, c.previous) });
    } catch (err) {
      const e = ChunkswarmError.fromSystem(err, `copying ${c.displayPath}`);
      out.push({ error: { code: e.code, message: e.message } });
      break;
    }
  }
  return out;
}

/**
 * Worker threads beside the main one for `files` small files: `configured` (publisher.copyThreads)
 * where set, else a core each (at most 3) from MIN_FILES_FOR_WORKERS files on, leaving no core
 * idle while a publish copies.
 */
export function copyThreads(files: number, configured: number | null): number {
  if (files === 0) return 0;
  if (configured !== null) return configured;
  return files < MIN_FILES_FOR_WORKERS ? 0 : Math.min(3, availableParallelism() - 1);
}

/**
 * Hashes and copies small files on the main thread and `threads` worker threads at once: each
 * takes the next batch when done with its own, and `onFile` hears of every file as its batch
 * ends, in no particular order. Reading, hashing and creating 10^4 small files is
 * system calls and SHA-256 (~60 µs a file), one core's work unless shared: the publisher's other
 * cores sit idle while it publishes, its followers waiting for the release. Throws the first
 * file's error, once every batch under way has come back.
 */
export async function copySmallFiles(jobs: readonly SmallCopy[], threads: number, onFile: (index: number, outcome: CopyResult | null) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: ChunkswarmError | null = null;
  const take = (): { start: number; batch: readonly SmallCopy[] } | null => {
    if (failure !== null || next >= jobs.length) return null;
    const start = next;
    next = Math.min(jobs.length, next + BATCH);
    return { start, batch: jobs.slice(start, next) };
  };
  const settle = async (start: number, outcomes: readonly SmallOutcome[]): Promise<void> => {
    for (let i = 0; i < outcomes.length && failure === null; i++) {
      const o = outcomes[i]!;
      if ('error' in o) {
        failure ??= new ChunkswarmError(o.error.code, o.error.message);
        return;
      }
      await onFile(start + i, o.done);
    }
  };
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./copy-worker.js', import.meta.url)));
  const viaWorker = async (w: Worker): Promise<void> => {
    for (let t = take(); t !== null; t = take()) {
      const outcomes = await new Promise<SmallOutcome[]>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`a copy thread stopped (exit code ${code}) with ${t!.batch.length} files to copy`)));
        w.postMessage(t!.batch);
      }).finally(() => w.removeAllListeners('error').removeAllListeners('message').removeAllListeners('exit'));
      await settle(t.start, outcomes);
    }
  };
  const here = async (): Promise<void> => {
    for (let t = take(); t !== null; t = take()) {
      await settle(t.start, copyBatch(t.batch));
      // Lets the workers' answers in between two batches of synchronous calls.
      await new Promise((r) => setImmediate(r));
    }
  };
  // Every thread's loop ends before this returns: a failure stops them all taking batches, and
  // nothing is recorded after the publish has failed.
  const untilFailure = (run: Promise<void>) => run.catch((err: unknown) => void (failure ??= ChunkswarmError.fromSystem(err, 'copying files on a worker thread')));
  try {
    // The workers take the first batches, while they start; the main thread the next ones.
    await Promise.all([...workers.map((w) => untilFailure(viaWorker(w))), untilFailure(here())]);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (failure) throw failure;
}
