/**
 * Checks the framing of the inbound byte stream before bittorrent-protocol sees it. The library
 * believes any 32-bit length prefix and buffers that much, and ignores unknown message ids; a
 * peer could make us hold gigabytes or speak garbage forever. This reads only the 68-byte
 * handshake and each message's 5-byte header and skips over bodies, so it costs almost nothing.
 */
export interface FrameLimits {
  /** Largest BEP-10 payload (after the extended id byte). */
  maxExtendedBytes: number;
  maxPieceBytes: number;
}

const HANDSHAKE_BYTES = 68;
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
  private readonly header = new Uint8Array(HANDSHAKE_BYTES);
  private headerLength = 0;
  private handshakeDone = false;
  /** Body bytes of the current message still to pass. */
  private skip = 0;
  private failure: string | null = null;

  constructor(
    private readonly infoHash: Uint8Array,
    private readonly limits: FrameLimits,
    /** Called for each piece request the peer sends, before the library handles it. */
    private readonly onRequest: () => void = () => undefined,
  ) {}

  /** Feeds the next inbound chunk; returns why the peer must be dropped, or null. Once failed, stays failed. */
  check(chunk: Uint8Array): string | null {
    let pos = 0;
    while (this.failure === null && pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        this.skip -= n;
        pos += n;
        continue;
      }
      this.header[this.headerLength++] = chunk[pos++]!;
      if (!this.handshakeDone) {
        if (this.headerLength === HANDSHAKE_BYTES) this.failure = this.checkHandshake();
      } else if (this.headerLength === 4 && this.messageLength() === 0) {
        this.headerLength = 0; // keep-alive
      } else if (this.headerLength === 5) {
        this.failure = this.checkMessageHeader(this.messageLength(), this.header[4]!);
      }
    }
    return this.failure;
  }

  private checkHandshake(): string | null {
    const h = this.header;
    if (!PROTOCOL.equals(h.subarray(0, PROTOCOL.length))) return 'peer does not speak the BitTorrent protocol';
    // reserved bytes start at 20: BEP-10 extended is byte 5 bit 0x10, BEP-6 fast is byte 7 bit 0x04
    if ((h[25]! & 0x10) === 0 || (h[27]! & 0x04) === 0) return 'peer handshake lacks the extension protocol or fast extension';
    if (!Buffer.from(this.infoHash).equals(h.subarray(28, 48))) return 'peer handshake is for another cluster (info-hash differs)';
    this.handshakeDone = true;
    this.headerLength = 0;
    return null;
  }

  private checkMessageHeader(length: number, id: number): string | null {
    this.headerLength = 0;
    this.skip = length - 1;
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
    const h = this.header;
    return ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!;
  }
}
