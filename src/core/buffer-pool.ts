/**
 * Buffers kept for reuse, lent out as views and given back by the view. A buffer that has been
 * written to before costs nothing more; a fresh one costs page faults on first touch and a GC
 * later (on this project's VMs a fresh 0.5 MB per piece was a fifth of a sender's CPU).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  /** The buffer behind each view lent and not given back. */
  private readonly lent = new WeakMap<Uint8Array, Buffer>();
  /** Views lent from a buffer that was free, and from one made for the purpose. */
  reused = 0;
  created = 0;

  /**
   * `max` free buffers are kept; `sizeFor(bytes)`: how large a new buffer that must hold `bytes`
   * is made (one size, or size classes that nearby requests share).
   */
  constructor(
    private readonly max: number,
    private readonly sizeFor: (bytes: number) => number,
  ) {}

  /** A view of `length` bytes at `offset` of a pooled buffer (a free one too small is dropped). */
  lend(length: number, offset = 0): Buffer {
    const need = offset + length;
    let buf: Buffer | undefined;
    while ((buf = this.free.pop()) !== undefined && buf.byteLength < need);
    if (buf !== undefined) this.reused++;
    else {
      this.created++;
      buf = Buffer.allocUnsafeSlow(this.sizeFor(need));
    }
    const view = buf.subarray(offset, need);
    this.lent.set(view, buf);
    return view;
  }

  /** The whole buffer behind a view this pool lent, or undefined. */
  bufferOf(view: Uint8Array): Buffer | undefined {
    return this.lent.get(view);
  }

  /**
   * The view is done with: its buffer is free again if `reuse` (nothing else references it),
   * else left to the GC. False if the pool did not lend the view, or it came back already.
   */
  giveBack(view: Uint8Array, reuse = true): boolean {
    const buf = this.lent.get(view);
    if (buf === undefined) return false;
    this.lent.delete(view);
    if (reuse && this.free.length < this.max) this.free.push(buf);
    return true;
  }
}
