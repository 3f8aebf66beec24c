/** Runs async jobs one after another, in call order; a failed job does not stop the ones after it. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** `onWait` is called at once if the job has to wait for another one. */
  run<T>(job: () => Promise<T>, onWait?: () => void): Promise<T> {
    if (this.pending > 0) onWait?.();
    this.pending++;
    const result = this.tail.then(job).finally(() => this.pending--);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
