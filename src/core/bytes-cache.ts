/**
 * Byte strings held in memory up to a total size, least recently used dropped first. Holds only
 * what its owner verified before putting it in: a hit is served as is.
 */
export class BytesCache<K> {
  private readonly entries = new Map<K, Uint8Array>();
  private bytes = 0;

  /** `maxBytes` in all; a single entry above `maxBytes / maxShare` is not kept (it would evict the rest). */
  constructor(
    private readonly maxBytes: number,
    private readonly maxShare = 8,
  ) {}

  get(key: K): Uint8Array | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: K, value: Uint8Array): void {
    if (value.length > this.maxBytes / this.maxShare) return;
    this.delete(key);
    this.entries.set(key, value);
    this.bytes += value.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }

  delete(key: K): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.bytes -= old.length;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  /** Bytes held. */
  get size(): number {
    return this.bytes;
  }
}
