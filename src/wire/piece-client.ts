import type Wire from 'bittorrent-protocol';
import { ChunkswarmError, type Clock } from '../core/index.js';
import { PendingRequests } from './pending.js';
import type { SpaceInfo } from './types.js';

interface Wanted {
  offset: number;
  length: number;
}

/**
 * Our piece requests to one peer: a whole piece, or the part of it this node lacks, per request, at
 * most one per index. The bytes are handed over as they came, of the size asked for: the session
 * verifies them once, where it stores them (one SHA-256 per received byte, not two).
 */
export class PieceClient {
  private readonly pending: PendingRequests<number, Uint8Array, Wanted>;
  downloadedBytes = 0;
  piecesReceived = 0;

  constructor(
    private readonly wire: Wire,
    clock: Clock,
    private readonly timeoutMs: number,
    private readonly maxPieceBytes: number,
    private readonly onBadPiece: (index: number, reason: string) => void,
  ) {
    this.pending = new PendingRequests(clock);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** `space` is the peer's current space, which the index refers to; `length` bytes from `offset`. */
  request(space: SpaceInfo | null, index: number, length: number, offset = 0): Promise<Uint8Array> {
    const refused = this.refusal(space, index, length, offset);
    if (refused) return Promise.reject(refused);
    const answer = this.pending.add(index, { offset, length }, this.timeoutMs, () => {
      this.wire.cancel(index, offset, length);
      return new ChunkswarmError('E_TIMEOUT', `peer did not send piece ${index} within ${this.timeoutMs} ms`);
    });
    // The library calls back synchronously when a request is superseded (cancel, reject, close), so
    // any callback arriving while `index` is pending belongs to the current request.
    this.wire.request(index, offset, length, (err, block) => {
      if (err) this.pending.reject(index, fromWireError(err, index));
      else if (block) this.receive(index, block);
    });
    return answer;
  }

  private refusal(space: SpaceInfo | null, index: number, length: number, offset: number): ChunkswarmError | null {
    if (space === null || !Number.isInteger(index) || index < 0 || index >= space.pieceCount) {
      const where = space ? `release ${space.release} (${space.pieceCount} pieces)` : 'no release yet';
      return ChunkswarmError.notFound(`piece ${index} in the peer's space: it announced ${where}`);
    }
    if (!Number.isInteger(length) || !Number.isInteger(offset) || length < 1 || offset < 0 || offset + length > this.maxPieceBytes) {
      return new ChunkswarmError('E_USAGE', `${length} bytes at ${offset} of a piece: outside 0..${this.maxPieceBytes}`);
    }
    if (this.wire.peerChoking) return new ChunkswarmError('E_BUSY', `peer is choking us; piece ${index} not requested`);
    if (this.pending.meta(index) !== undefined) return new ChunkswarmError('E_BUSY', `piece ${index} is already requested from this peer`);
    return null;
  }

  /**
   * Every piece message, after the library matched (or failed to match) it to a request: a piece
   * for an index we still wait for had the wrong offset or size.
   */
  onPiece(index: number, offset: number, block: Uint8Array): void {
    const wanted = this.pending.meta(index);
    if (wanted === undefined) return; // answered already, or late after a cancel: harmless
    this.pending.reject(index, new ChunkswarmError('E_PROTOCOL', `piece ${index} arrived as ${block.length} bytes at offset ${offset}`));
    this.wire.cancel(index, wanted.offset, wanted.length);
    this.onBadPiece(index, `piece ${index} arrived as ${block.length} bytes at offset ${offset}, requested ${wanted.length} at ${wanted.offset}`);
  }

  /**
   * Withdraws a request another peer has answered (end-game): the peer drops it unless its answer
   * is already on the way. The caller's promise rejects with E_CLOSED.
   */
  cancel(index: number): void {
    const wanted = this.pending.meta(index);
    if (wanted === undefined) return;
    this.pending.reject(index, new ChunkswarmError('E_CLOSED', `request for piece ${index} withdrawn: another peer sent it`));
    this.wire.cancel(index, wanted.offset, wanted.length);
  }

  failAll(err: ChunkswarmError): void {
    this.pending.rejectAll(err, (index, wanted) => this.wire.cancel(index, wanted.offset, wanted.length));
  }

  /** A block the library matched to our request: of the length asked for (else onPiece saw it first). */
  private receive(index: number, block: Uint8Array): void {
    if (this.pending.meta(index) === undefined) return;
    this.downloadedBytes += block.length;
    this.piecesReceived++;
    this.pending.resolve(index, block);
  }
}

/** E_BUSY errors that are the peer's own answer (a reject), not our refusal to send or a space change. */
const declines = new WeakSet<ChunkswarmError>();

/** Whether a requestPiece() failure is the peer declining the request. */
export function isDeclined(err: unknown): boolean {
  return err instanceof ChunkswarmError && declines.has(err);
}

/** The failure of a request the peer declined (a BEP-6 reject); isDeclined() tells it apart. */
export function declinedError(index: number, why: string): ChunkswarmError {
  const declined = new ChunkswarmError('E_BUSY', `peer declined piece ${index} (${why})`);
  declines.add(declined);
  return declined;
}

function fromWireError(err: Error, index: number): ChunkswarmError {
  if (/closed/.test(err.message)) return new ChunkswarmError('E_CLOSED', `connection closed before piece ${index} arrived`);
  if (/reject|chok/.test(err.message)) return declinedError(index, err.message);
  return new ChunkswarmError('E_PROTOCOL', `request for piece ${index} failed: ${err.message}`, { cause: err });
}
