import type { Clock } from '../core/index.js';

interface Entry<T, M> {
  meta: M;
  resolve(value: T): void;
  reject(err: Error): void;
  timer: { cancel(): void };
}

/** Outstanding requests by key, each settled exactly once: by an answer, an error or its timeout. */
export class PendingRequests<K, T, M> {
  private readonly entries = new Map<K, Entry<T, M>>();

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.entries.size;
  }

  meta(key: K): M | undefined {
    return this.entries.get(key)?.meta;
  }

  /** `onTimeout` runs after the entry is gone and returns the error to reject with. */
  add(key: K, meta: M, timeoutMs: number, onTimeout: (meta: M) => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.entries.delete(key);
        reject(onTimeout(meta));
      }, timeoutMs);
      this.entries.set(key, { meta, resolve, reject, timer });
    });
  }

  resolve(key: K, value: T): boolean {
    const e = this.take(key);
    e?.resolve(value);
    return e !== undefined;
  }

  reject(key: K, err: Error): boolean {
    const e = this.take(key);
    e?.reject(err);
    return e !== undefined;
  }

  /** Rejects everything; `each` runs per entry after it is gone (e.g. to cancel it on the wire). */
  rejectAll(err: Error, each?: (key: K, meta: M) => void): void {
    for (const [key, e] of [...this.entries]) {
      this.take(key);
      e.reject(err);
      each?.(key, e.meta);
    }
  }

  private take(key: K): Entry<T, M> | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    e.timer.cancel();
    return e;
  }
}
