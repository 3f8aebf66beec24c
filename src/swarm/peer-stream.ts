import type { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { ChunkswarmError, systemClock, type Clock } from '../core/index.js';
import { creditFrame, FrameReader, FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD, writeDataHeader } from './frames.js';
import type { Pacer } from './rate-limit.js';

/** What PeerStream needs from the stream it wraps (a NoiseSecretStream or any Node Duplex). */
export interface InnerDuplex extends EventEmitter {
  write(data: Uint8Array): boolean;
  end(): unknown;
  destroy(err?: Error): unknown;
  pause(): unknown;
  resume(): unknown;
  /** NoiseSecretStream: a buffer the next write() encrypts in place instead of copying it. */
  alloc?(length: number): Buffer;
}

export interface PeerStreamOptions {
  /** Bytes already read from `inner` before the wrap; they are parsed first. */
  prefix?: Buffer;
  pacer?: Pacer | null;
  clock?: Clock;
  /** Most bytes the peer may have in flight towards us (our receive buffer); default 4 MiB. */
  receiveWindow?: number;
  /**
   * false: `inner` has flow control of its own (a TCP socket): no frames and no credit, bytes pass
   * as they are and `inner` is paused while we hold what it delivered; only the pacing remains.
   * Default true (hyperswarm streams).
   */
  framed?: boolean;
}

export const DEFAULT_RECEIVE_WINDOW = 4 * 1024 * 1024;
/**
 * Writes and reads smaller than this (batches of requests, haves, offers, objects: a piece is at
 * least 64 KiB) count against the buckets but do not wait for them: waiting, they queued behind
 * every byte the node's bucket had promised to pieces on its other connections (~1 s at 0.5 MB/s
 * with 8 upload slots), and a node's requests, and its answers to a peer's first requests, came
 * that much later. The bucket's debt makes the pieces after them wait instead, so the long-run
 * rate stays exact. On one connection, order is kept: a write starts after the previous one went,
 * and a read goes ahead only while nothing read before it is held. On TCP a small read may also
 * be the tail of a piece the socket had buffered; it too is counted, and paid for by the next wait.
 */
const PACED_FROM_BYTES = 16 * 1024;
/** Largest write passed on whole on an unframed stream; a piece record (up to 1 MiB) fits. */
const MAX_WHOLE_WRITE = 2 * 1024 * 1024;

interface Held {
  chunk: Buffer;
  at: number;
}

/**
 * The application stream of one authenticated connection (both ends must use it): framed, flow
 * controlled by credits (see frames.ts) and optionally paced by token buckets. Everything is
 * backpressure, never buffering: a throttled write calls back only once its bytes may go; a
 * throttled or unread stream stops granting credit, which stops the remote writer.
 * A framed stream never pauses `inner`: like TCP acknowledgements, CREDIT frames must get through
 * even while the application is not reading, and the credit already bounds what can pile up.
 */
export class PeerStream extends Duplex {
  /** Why the stream was torn down, if the peer broke the framing protocol. */
  closeReason: Error | undefined;
  private readonly inner: InnerDuplex;
  private readonly pacer: Pacer | null;
  private readonly clock: Clock;
  private readonly window: number;
  private readonly framed: boolean;
  private readonly reader = new FrameReader();
  private readonly held: Held[] = [];
  private readonly innerListeners: Array<[string, (...args: any[]) => void]>;
  private readTimer: { cancel(): void } | null = null;
  private writeTimer: { cancel(): void } | null = null;
  private wakeWriter: (() => void) | null = null;
  private readerWants = true;
  private innerPaused = false;
  private innerEnded = false;
  private innerFinished = false;
  private endPushed = false;
  private sendCredit = 0;
  private receivedBeyondGrant = 0;
  private ungranted = 0;
  /**
   * Unframed over a stream that encrypts in place (the direct path paced): `inner`'s buffers, so
   * that a piece record is built once and written whole, not sliced and copied by `inner`.
   */
  readonly alloc?: (length: number) => Buffer;

  constructor(inner: InnerDuplex, opts: PeerStreamOptions = {}) {
    super();
    this.inner = inner;
    this.pacer = opts.pacer ?? null;
    this.clock = opts.clock ?? systemClock;
    this.window = Math.max(opts.receiveWindow ?? DEFAULT_RECEIVE_WINDOW, 4 * MAX_FRAME_PAYLOAD);
    this.framed = opts.framed ?? true;
    this.receivedBeyondGrant = -this.window;
    if (this.framed) this.inner.write(creditFrame(this.window));
    else this.sendCredit = Number.POSITIVE_INFINITY;
    if (!this.framed && inner.alloc) this.alloc = (length) => inner.alloc!(length);

    this.innerListeners = [
      ['data', (chunk: Buffer) => this.onInnerData(chunk)],
      ['end', () => this.onInnerEnd()],
      ['finish', () => { this.innerFinished = true; }],
      ['close', () => this.onInnerClose()],
      // Errors end in 'close'; the owner of `inner` decides what to report.
      ['error', () => undefined],
    ];
    if (opts.prefix && opts.prefix.byteLength > 0) this.onInnerData(opts.prefix);
    for (const [event, fn] of this.innerListeners) inner.on(event, fn);
    inner.resume();
    this.pump();
  }

  override _read(): void {
    this.readerWants = true;
    this.pump();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send(chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.innerFinished) return cb();
    this.inner.once('finish', () => cb());
    this.inner.end();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.readTimer?.cancel();
    this.writeTimer?.cancel();
    this.wakeWriter = null;
    for (const [event, fn] of this.innerListeners) this.inner.off(event, fn);
    this.inner.on('error', () => undefined);
    this.inner.destroy();
    cb(err);
  }

  private async send(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.byteLength && !this.destroyed; ) {
      if (this.sendCredit === 0) {
        await new Promise<void>((resolve) => { this.wakeWriter = resolve; });
        continue;
      }
      // Where the writer builds its messages in inner's alloc() (StreamLink), each write is one
      // message and goes whole, so that a record is encrypted where it was built (the buckets
      // allow the burst and are in debt afterwards); otherwise frame-sized slices, each a record.
      const whole = this.alloc !== undefined && at === 0 && chunk.byteLength <= MAX_WHOLE_WRITE;
      const n = whole ? chunk.byteLength : Math.min(chunk.byteLength - at, this.sendCredit, MAX_FRAME_PAYLOAD);
      this.sendCredit -= n;
      const wait = this.pacer ? this.pacer.upload(n) : 0;
      if (wait > 0 && n >= PACED_FROM_BYTES) await new Promise<void>((resolve) => { this.writeTimer = this.clock.setTimeout(resolve, wait); });
      if (this.destroyed) return;
      const ok = this.inner.write(this.framed ? this.frame(chunk, at, n) : whole ? chunk : chunk.subarray(at, at + n));
      at += n;
      if (!ok) await new Promise<void>((resolve) => this.inner.once('drain', resolve));
    }
  }

  /** One DATA frame: one write, as every write to a secret stream is encrypted and sent on its own. */
  private frame(chunk: Buffer, at: number, n: number): Buffer {
    const out = this.inner.alloc ? this.inner.alloc(FRAME_HEADER_BYTES + n) : Buffer.allocUnsafe(FRAME_HEADER_BYTES + n);
    writeDataHeader(out, n);
    chunk.copy(out, FRAME_HEADER_BYTES, at, at + n);
    return out;
  }

  private onInnerData(chunk: Buffer): void {
    if (!this.framed) return this.hold(chunk);
    try {
      this.reader.feed(chunk, {
        data: (piece) => {
          this.receivedBeyondGrant += piece.byteLength;
          if (this.receivedBeyondGrant > 0) {
            throw new ChunkswarmError('E_PROTOCOL', 'peer sent more than its flow-control credit');
          }
          this.hold(piece);
        },
        credit: (bytes) => {
          this.sendCredit += bytes;
          const wake = this.wakeWriter;
          this.wakeWriter = null;
          wake?.();
        },
      });
    } catch (err) {
      this.closeReason = err as Error;
      this.destroy();
    }
  }

  private onInnerEnd(): void {
    if (this.reader.midFrame) {
      this.closeReason = new ChunkswarmError('E_PROTOCOL', 'peer ended the stream in the middle of a frame');
      this.destroy();
      return;
    }
    this.innerEnded = true;
    this.pump();
  }

  private onInnerClose(): void {
    // A clean close (both directions ended) lets held bytes drain; anything else is an abort.
    if (!(this.innerEnded && this.innerFinished)) this.destroy();
  }

  private hold(chunk: Buffer): void {
    const taken = this.pacer ? this.pacer.download(chunk.byteLength) : 0;
    const wait = chunk.byteLength < PACED_FROM_BYTES && this.held.length === 0 ? 0 : taken;
    // Waits from a bucket are cumulative, so release times never decrease along the queue.
    this.held.push({ chunk, at: wait > 0 ? this.clock.now() + wait : 0 });
    this.pump();
  }

  private pump(): void {
    if (this.destroyed || this.endPushed) return;
    while (this.held.length > 0 && this.readerWants && this.readTimer === null) {
      const head = this.held[0]!;
      const wait = head.at - this.clock.now();
      if (wait > 0) {
        this.readTimer = this.clock.setTimeout(() => {
          this.readTimer = null;
          this.pump();
        }, wait);
        break;
      }
      this.held.shift();
      this.ungranted += head.chunk.byteLength;
      this.readerWants = this.push(head.chunk);
    }
    if (!this.framed) {
      // The transport's own flow control: `inner` stops reading, its peer's writes stop.
      const pause = this.held.length > 0;
      if (pause !== this.innerPaused) {
        this.innerPaused = pause;
        if (pause) this.inner.pause();
        else this.inner.resume();
      }
    } else if (this.readerWants && this.ungranted >= this.window / 4) {
      // Credit goes back only for bytes the reader has taken and only while it wants more, in
      // batches so that CREDIT frames stay rare.
      this.receivedBeyondGrant -= this.ungranted;
      this.inner.write(creditFrame(this.ungranted));
      this.ungranted = 0;
    }
    if (this.held.length === 0 && this.innerEnded) {
      this.endPushed = true;
      this.push(null);
      return;
    }
  }
}
