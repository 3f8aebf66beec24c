/** What a lent buffer may come back as: the view lent, or the part of it its holders kept (narrow). */
interface Lent {
  buf: Buffer;
  offset: number;
  length: number;
}

/**
 * Buffers kept for reuse, lent out as views and given back by the view. A buffer that has been
 * written to before costs nothing more; a fresh one costs page faults on first touch and a GC
 * later (on this project's VMs a fresh 0.5 MB per piece was a fifth of a sender's CPU).
 * A view never given back is only a buffer the pool does not reuse: the GC takes it.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  /** Each buffer lent and not given back, by its memory: a view of any part of it finds it. */
  private readonly lent = new WeakMap<ArrayBufferLike, Lent>();
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

  /**
   * A view of `length` bytes at `offset` of a pooled buffer: a free one that holds it and is at
   * most twice the size `sizeFor` gives, else a new one of that size. A larger one is left for
   * another view: lent for a small view, it would pin all of its memory for as long as the view
   * is held. Up to twice: sizes in use vary a little (the pieces of one release), and a buffer of
   * the next size up is as good as a new one.
   */
  lend(length: number, offset = 0): Buffer {
    const need = offset + length;
    const size = this.sizeFor(need);
    const at = this.free.findIndex((b) => b.byteLength >= need && b.byteLength <= 2 * size);
    let buf: Buffer;
    if (at >= 0) {
      this.reused++;
      buf = this.free.splice(at, 1)[0]!;
    } else {
      this.created++;
      buf = Buffer.allocUnsafeSlow(size);
    }
    const view = buf.subarray(offset, need);
    this.lent.set(buf.buffer, { buf, offset: view.byteOffset, length });
    return view;
  }

  /** The whole buffer behind a view this pool lent (exactly the view lent, or narrowed to), or undefined. */
  bufferOf(view: Uint8Array): Buffer | undefined {
    return this.holding(view)?.buf;
  }

  /**
   * Its holders keep only `view`, a part of a view lent (or narrowed to before), and drop every
   * other view of the buffer: it comes back as `view`. False, and nothing changes, if the pool
   * did not lend the buffer or `view` lies outside what may come back.
   */
  narrow(view: Uint8Array): boolean {
    const l = this.lent.get(view.buffer);
    if (l === undefined || view.byteOffset < l.offset || view.byteOffset + view.byteLength > l.offset + l.length) return false;
    l.offset = view.byteOffset;
    l.length = view.byteLength;
    return true;
  }

  /**
   * The view is done with: its buffer is free again if `reuse` (nothing else references it),
   * else left to the GC. False if the pool did not lend the view (or narrow to it), or it came
   * back already.
   */
  giveBack(view: Uint8Array, reuse = true): boolean {
    const l = this.holding(view);
    if (l === undefined) return false;
    this.lent.delete(view.buffer);
    if (reuse) {
      // The oldest free buffer makes room: sizes in use follow the releases being moved.
      if (this.free.length >= this.max) this.free.shift();
      this.free.push(l.buf);
    }
    return true;
  }

  private holding(view: Uint8Array): Lent | undefined {
    const l = this.lent.get(view.buffer);
    return l !== undefined && l.offset === view.byteOffset && l.length === view.byteLength ? l : undefined;
  }
}
