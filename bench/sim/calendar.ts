/**
 * A calendar queue of events keyed by time step: O(1) to schedule and to take, which a binary heap
 * of 10^8 messages would not be. Events due in the step being drained are appended to it and run
 * in the same drain, in the order they were scheduled (FIFO per step, as messages on one
 * connection are).
 */
export class Calendar<T> {
  private readonly buckets = new Map<number, T[]>();
  size = 0;

  at(step: number, item: T): void {
    let b = this.buckets.get(step);
    if (!b) {
      b = [];
      this.buckets.set(step, b);
    }
    b.push(item);
    this.size++;
  }

  /** Runs every item due at `step`, including those scheduled for it while running. */
  drain(step: number, run: (item: T) => void): number {
    const b = this.buckets.get(step);
    if (!b) return 0;
    let i = 0;
    for (; i < b.length; i++) run(b[i]!);
    this.buckets.delete(step);
    this.size -= i;
    return i;
  }
}
