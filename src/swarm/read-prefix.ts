import { ChunkswarmError, type Clock } from '../core/index.js';

/** What readPrefix needs of a stream: a Node Duplex and a streamx one (NoiseSecretStream) both fit. */
export interface PrefixSource {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/**
 * Reads the first bytes of a stream until `complete` says how many form the message (or null: not
 * yet), starting with `already` (bytes read earlier). Resolves with the message and whatever
 * arrived behind it; the stream is left paused so that nothing more is lost. Rejects with
 * E_TIMEOUT, E_CLOSED (also when `signal` aborts), or the error `complete` throws (a malformed
 * message).
 */
export function readPrefix(
  stream: PrefixSource,
  already: Buffer,
  complete: (head: Buffer) => number | null,
  o: { timeoutMs: number; clock: Clock; what: string; signal?: AbortSignal },
): Promise<{ message: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let got = already;
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      timer.cancel();
      stream.off('data', onData);
      stream.off('close', onClose);
      stream.pause();
      if (err) return reject(err);
      const n = complete(got)!;
      resolve({ message: got.subarray(0, n), rest: got.subarray(n) });
    };
    const check = (): void => {
      try {
        const n = complete(got);
        if (n !== null && got.byteLength >= n) finish(null);
      } catch (err) {
        finish(err as Error);
      }
    };
    const onData = (chunk: Buffer): void => {
      got = got.byteLength === 0 ? chunk : Buffer.concat([got, chunk]);
      check();
    };
    const onClose = (): void => finish(new ChunkswarmError('E_CLOSED', `connection closed before ${o.what}`));
    const timer = o.clock.setTimeout(() => finish(new ChunkswarmError('E_TIMEOUT', `no ${o.what} within ${o.timeoutMs} ms`)), o.timeoutMs);
    o.signal?.addEventListener('abort', () => finish(new ChunkswarmError('E_CLOSED', `stopped waiting for ${o.what}`)), { once: true });
    check();
    if (done) return;
    stream.on('data', onData);
    stream.on('close', onClose);
    stream.resume();
  });
}
