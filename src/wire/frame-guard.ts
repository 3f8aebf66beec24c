/**
 * Checks the framing of the inbound byte stream before bittorrent-protocol sees it, and hands the
 * library whole messages. The library believes any 32-bit length prefix and buffers that much,
 * and ignores unknown message ids; a peer could make us hold gigabytes or speak garbage forever.
 * It also re-concatenates its whole input buffer with each chunk that does not complete a
 * message: a piece arriving in four chunks would be copied four times. Here a message inside one
 * chunk passes as a view of it, and one spread over several chunks is copied once.
 */
export interface FrameLimits {
  /** Largest BEP-10 payload (after the extended id byte). */
  maxExtendedBytes: number;
  maxPieceBytes: number;
}

const HANDSHAKE_BYTES = 68;
const HEADER_BYTES = 5;
const PROTOCOL = Buffer.from('\x13BitTorrent protocol', 'latin1');
const ID = { request: 6, piece: 7, cancel: 8, reject: 0x10, extended: 20 } as const;
/** Fixed lengths (id byte included) of the only other messages our peers send. */
const FIXED_LENGTH: Record<number, number> = {
  0: 1, // choke
  1: 1, // unchoke
  2: 1, // interested
  3: 1, // uninterested
  4: 5, // have
  [ID.request]: 13,
  [ID.cancel]: 13,
  [ID.reject]: 13,
};

export class FrameGuard {
  private readonly head = new Uint8Array(HANDSHAKE_BYTES);
  private headLength = 0;
  private handshakeDone = false;
  /** The message being assembled across chunks, and how much of it is filled. */
  private partial: Uint8Array | null = null;
  private partialFill = 0;
  private failure: string | null = null;

  constructor(
    private readonly infoHash: Uint8Array,
    private readonly limits: FrameLimits,
    /** Called for each piece request the peer sends, before the library handles it. */
    private readonly onRequest: () => void = () => undefined,
  ) {}

  /**
   * Feeds the next inbound chunk; each complete message (the handshake, a keep-alive, any other
   * message with its length prefix) goes to `deliver`, in order. Returns why the peer must be
   * dropped, or null. Once failed, stays failed and delivers nothing more.
   */
  feed(chunk: Uint8Array, deliver: (message: Uint8Array) => void): string | null {
    let pos = 0;
    // Where the message being read began in this chunk (-1: in an earlier one).
    let start = -1;
    while (this.failure === null && pos < chunk.length) {
      if (this.partial !== null) {
        const n = Math.min(this.partial.length - this.partialFill, chunk.length - pos);
        this.partial.set(chunk.subarray(pos, pos + n), this.partialFill);
        this.partialFill += n;
        pos += n;
        if (this.partialFill === this.partial.length) {
          const message = this.partial;
          this.partial = null;
          deliver(message);
        }
        continue;
      }
      if (this.headLength === 0) start = pos;
      this.head[this.headLength++] = chunk[pos++]!;
      const total = this.messageBytes();
      if (total === null) continue;
      if (this.failure !== null) break;
      const headLength = this.headLength;
      this.headLength = 0;
      if (start >= 0 && start + total <= chunk.length) {
        deliver(chunk.subarray(start, start + total));
        pos = start + total;
      } else if (headLength === total) {
        deliver(Uint8Array.from(this.head.subarray(0, total)));
      } else {
        this.partial = Buffer.allocUnsafe(total);
        this.partial.set(this.head.subarray(0, headLength));
        this.partialFill = headLength;
      }
      start = -1;
    }
    return this.failure;
  }

  /** Once the header read so far tells the whole message's size: that size (failure set if it is bad). */
  private messageBytes(): number | null {
    if (!this.handshakeDone) {
      if (this.headLength < HANDSHAKE_BYTES) return null;
      this.failure = this.checkHandshake();
      return HANDSHAKE_BYTES;
    }
    if (this.headLength === 4 && this.messageLength() === 0) return 4; // keep-alive
    if (this.headLength < HEADER_BYTES) return null;
    const length = this.messageLength();
    this.failure = this.checkMessageHeader(length, this.head[4]!);
    return 4 + length;
  }

  private checkHandshake(): string | null {
    const h = this.head;
    if (!PROTOCOL.equals(h.subarray(0, PROTOCOL.length))) return 'peer does not speak the BitTorrent protocol';
    // reserved bytes start at 20: BEP-10 extended is byte 5 bit 0x10, BEP-6 fast is byte 7 bit 0x04
    if ((h[25]! & 0x10) === 0 || (h[27]! & 0x04) === 0) return 'peer handshake lacks the extension protocol or fast extension';
    if (!Buffer.from(this.infoHash).equals(h.subarray(28, 48))) return 'peer handshake is for another cluster, or from a chunkswarm version whose wire differs (info-hash differs)';
    this.handshakeDone = true;
    return null;
  }

  private checkMessageHeader(length: number, id: number): string | null {
    const fixed = FIXED_LENGTH[id];
    if (fixed !== undefined) {
      if (length !== fixed) return `message id ${id} has length ${length}, expected ${fixed}`;
      if (id === ID.request) this.onRequest();
      return null;
    }
    if (id === ID.piece) {
      const max = 9 + this.limits.maxPieceBytes;
      return length > 9 && length <= max ? null : `piece message of ${length} bytes is outside 10..${max}`;
    }
    if (id === ID.extended) {
      const max = 2 + this.limits.maxExtendedBytes;
      return length >= 2 && length <= max ? null : `extension message of ${length} bytes is outside 2..${max}`;
    }
    return `unexpected message id ${id} (length ${length})`;
  }

  private messageLength(): number {
    const h = this.head;
    return ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!;
  }
}
