interface Entry<K> {
  key: K;
  value: Uint8Array;
  /** Neighbours in use order: `older` toward the next to drop. */
  older: Entry<K> | null;
  newer: Entry<K> | null;
}

/**
 * Byte strings held in memory up to a total size, least recently used dropped first. Holds only
 * what its owner verified before putting it in: a hit is served as is.
 *
 * The use order is a list of its own, not a Map's insertion order: dropping a Map's first entry
 * walks past every entry deleted before it until the Map is rehashed, so a full cache of 10^5
 * objects took ~30 µs per insertion (3.3 s for 100,000, a third of a 100,000-file publisher's
 * objects phase); here each step is O(1).
 */
export class BytesCache<K> {
  private readonly entries = new Map<K, Entry<K>>();
  private oldest: Entry<K> | null = null;
  private newest: Entry<K> | null = null;
  private bytes = 0;

  private readonly maxShare: number;
  private readonly dropped: (value: Uint8Array) => void;
  private readonly entryBytes: number;

  /**
   * `maxBytes` in all. `maxShare`: a single entry above `maxBytes / maxShare` is not kept (it would
   * evict the rest). `dropped`: told of each value the cache no longer holds (or refused to hold).
   * `entryBytes`: what an entry costs beyond its value (its key, its list node, its Map slot),
   * counted against `maxBytes` with it: for values of ~100 bytes the entries cost twice the values.
   */
  constructor(
    private readonly maxBytes: number,
    o: { maxShare?: number; dropped?: (value: Uint8Array) => void; entryBytes?: number } = {},
  ) {
    this.maxShare = o.maxShare ?? 8;
    this.dropped = o.dropped ?? (() => undefined);
    this.entryBytes = o.entryBytes ?? 0;
  }

  get(key: K): Uint8Array | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.unlink(e);
    this.append(e);
    return e.value;
  }

  set(key: K, value: Uint8Array): void {
    if (value.length > this.maxBytes / this.maxShare) return this.dropped(value);
    const held = this.entries.get(key);
    if (held?.value === value) {
      this.unlink(held);
      return this.append(held);
    }
    this.delete(key);
    const e: Entry<K> = { key, value, older: null, newer: null };
    this.entries.set(key, e);
    this.append(e);
    this.bytes += value.length + this.entryBytes;
    while (this.bytes > this.maxBytes && this.oldest) this.delete(this.oldest.key);
  }

  delete(key: K): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.unlink(e);
    this.bytes -= e.value.length + this.entryBytes;
    this.dropped(e.value);
  }

  clear(): void {
    for (const e of this.entries.values()) this.dropped(e.value);
    this.entries.clear();
    this.oldest = this.newest = null;
    this.bytes = 0;
  }

  /** Bytes held, entries' own cost included. */
  get size(): number {
    return this.bytes;
  }

  private append(e: Entry<K>): void {
    e.older = this.newest;
    e.newer = null;
    if (this.newest) this.newest.newer = e;
    else this.oldest = e;
    this.newest = e;
  }

  private unlink(e: Entry<K>): void {
    if (e.older) e.older.newer = e.newer;
    else this.oldest = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.newest = e.older;
    e.older = e.newer = null;
  }
}
