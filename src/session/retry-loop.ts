import { ChunkswarmError, type Clock } from '../core/index.js';

/**
 * What one attempt ended in: `done` (the node is where it should be: any earlier error is over),
 * or `waiting` (nothing failed, but there is nothing to finish yet: a newer release superseded the
 * one in hand, the node is closing).
 */
export type AttemptOutcome = 'done' | 'waiting';

export interface RetryLoopOptions {
  clock: Clock;
  attempt: () => Promise<AttemptOutcome>;
  /** First retry delay after a failure; doubled per consecutive failure up to maxMs. */
  firstMs?: number;
  maxMs?: number;
  onError?: (err: ChunkswarmError, retryInMs: number) => void;
}

export interface RetryState {
  /** The last failure, until an attempt ends `done`. */
  lastError: { code: string; message: string; at: number } | null;
  /** Consecutive failed attempts. */
  failures: number;
  /** Clock time of the next automatic attempt, or null if none is scheduled. */
  retryAt: number | null;
}

/**
 * Runs a node's convergence step ("bring me to the release I should be on") one at a time: a
 * kick during a run asks for one more run after it; a failure schedules a retry with exponential
 * backoff and stays reported until a later attempt succeeds. Nothing that fails once stops the
 * loop for good.
 */
export class RetryLoop {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private timer: { cancel(): void } | null = null;
  private readonly firstMs: number;
  private readonly maxMs: number;
  private readonly s: RetryState = { lastError: null, failures: 0, retryAt: null };

  constructor(private readonly o: RetryLoopOptions) {
    this.firstMs = o.firstMs ?? 1000;
    this.maxMs = o.maxMs ?? 30_000;
  }

  get state(): Readonly<RetryState> {
    return { ...this.s };
  }

  /**
   * Runs an attempt now, or once more after the one in progress. `fresh`: the node's intent
   * changed (an operator command, a new release): the backoff starts over.
   */
  kick(fresh = false): void {
    if (this.stopped) return;
    if (fresh) this.s.failures = 0;
    if (this.running) {
      this.again = true;
      return;
    }
    this.cancelTimer();
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** An attempt is running. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves once no attempt is running (after the current one, if any). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer();
    await this.idle();
  }

  private async run(): Promise<void> {
    try {
      const outcome = await this.o.attempt();
      if (outcome === 'done') {
        this.s.lastError = null;
        this.s.failures = 0;
      }
    } catch (err) {
      const e = ChunkswarmError.fromSystem(err, 'running the node');
      this.s.failures++;
      this.s.lastError = { code: e.code, message: e.message, at: this.o.clock.now() };
      const delay = Math.min(this.maxMs, this.firstMs * 2 ** (this.s.failures - 1));
      this.o.onError?.(e, delay);
      if (this.again || this.stopped) return;
      this.s.retryAt = this.o.clock.now() + delay;
      this.timer = this.o.clock.setTimeout(() => {
        this.timer = null;
        this.s.retryAt = null;
        this.kick();
      }, delay);
    }
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = null;
    this.s.retryAt = null;
  }
}
