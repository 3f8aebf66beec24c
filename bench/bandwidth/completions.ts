/** Per-node completion times of one step, in seconds from its start, and a bounded wait for all. */
export class Completions {
  readonly times: Array<number | null>;
  private t0 = performance.now();
  private left: number;
  private wake: (() => void) | null = null;

  constructor(n: number) {
    this.times = new Array<number | null>(n).fill(null);
    this.left = n;
  }

  /** Restarts the clock: call it right before the step's first action. */
  start(): void {
    this.t0 = performance.now();
  }

  elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  mark(i: number): void {
    if (this.times[i] !== null) return;
    this.times[i] = this.elapsed();
    if (--this.left === 0) this.wake?.();
  }

  /** Resolves when every node completed or after timeoutMs (the rest stay null). */
  async wait(timeoutMs: number): Promise<void> {
    if (this.left === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.wake = null;
  }

  /** Polls `check(i)` for every node not yet complete, every `everyMs`, until all are or timeout. */
  async poll(check: (i: number) => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (this.left > 0 && performance.now() < end) {
      await Promise.all(this.times.map(async (t, i) => {
        if (t === null && (await check(i))) this.mark(i);
      }));
      if (this.left > 0) await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}
