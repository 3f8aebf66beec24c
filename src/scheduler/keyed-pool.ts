/**
 * A set of piece indexes, each under a small integer key, from which the lowest-keyed piece that
 * passes a test is picked without scanning the whole set: the super-seeder picks an offer this way
 * once per `have` it sends, and a full scan of the scarce pieces per offer made its cost grow with
 * pieces x offers (bench/transfer profile: SuperSeeder.pickNew, 5 % of the publisher's CPU).
 *
 * Each key has a bucket (an array, with each member's position, so add and remove are O(1)). A pick
 * scans the lowest bucket from a random position, wrapping, and takes the first piece that passes;
 * pieces that fail (already told to the peer, held by it) are few, so a pick costs a few steps.
 * Ties are thus broken at random, though not exactly uniformly: a piece just after a run of
 * failing ones is likelier. Nothing depends on uniformity, only on no fixed order.
 */
export class KeyedPool {
  /** Per piece: its key, or -1 when absent. */
  private readonly keyOf: Int32Array;
  /** Per piece: its position in its bucket. */
  private readonly position: Uint32Array;
  private readonly buckets: number[][];

  constructor(pieceCount: number, keys: number) {
    this.keyOf = new Int32Array(pieceCount).fill(-1);
    this.position = new Uint32Array(pieceCount);
    this.buckets = Array.from({ length: keys }, () => []);
  }

  has(index: number): boolean {
    return (this.keyOf[index] ?? -1) >= 0;
  }

  /** Puts the piece under `key`, or takes it out (null, or a key beyond the pool's). */
  set(index: number, key: number | null): void {
    const now = key !== null && key >= 0 && key < this.buckets.length ? key : -1;
    const was = this.keyOf[index]!;
    if (was === now) return;
    if (was >= 0) this.remove(index, this.buckets[was]!);
    this.keyOf[index] = now;
    if (now >= 0) {
      const bucket = this.buckets[now]!;
      this.position[index] = bucket.length;
      bucket.push(index);
    }
  }

  /** The lowest-keyed piece that `ok` accepts, from a random start within its bucket; undefined if none. */
  pick(random: () => number, ok: (index: number) => boolean): number | undefined {
    for (const bucket of this.buckets) {
      const n = bucket.length;
      if (n === 0) continue;
      const start = Math.floor(random() * n);
      for (let step = 0; step < n; step++) {
        const index = bucket[(start + step) % n]!;
        if (ok(index)) return index;
      }
    }
    return undefined;
  }

  private remove(index: number, bucket: number[]): void {
    const at = this.position[index]!;
    const last = bucket.pop()!;
    if (last !== index) {
      bucket[at] = last;
      this.position[last] = at;
    }
  }
}
