/**
 * How long each release took to go live on this node, from the moment the node first knew of it.
 * Pure: fed the newest and live versions with the time, it returns each finished rollout once.
 */
export class RolloutTimer {
  /** Version -> when it was first seen (NaN: already known at start, so not timed). */
  private readonly seen = new Map<number, number>();
  private started = false;
  /** The highest version seen live: nothing at or below it is timed again. */
  private done = -Infinity;

  /** Returns [version, seconds] for each release that just went live and whose arrival was seen. */
  observe(newest: number | null, live: number | null, nowMs: number): Array<[number, number]> {
    if (!this.started) {
      this.started = true;
      if (newest !== null) this.seen.set(newest, Number.NaN);
    }
    if (newest !== null && newest > this.done && !this.seen.has(newest)) this.seen.set(newest, nowMs);
    if (live === null) return [];
    const out: Array<[number, number]> = [];
    for (const [v, at] of this.seen) {
      if (v > live) continue;
      this.seen.delete(v);
      if (v === live && !Number.isNaN(at)) out.push([v, (nowMs - at) / 1000]);
    }
    this.done = Math.max(this.done, live);
    return out;
  }
}
