import { ChunkswarmError, type Clock, type ObjectHash } from '../core/index.js';
import { DEFAULT_LIMITS, hashBytes } from '../manifest/index.js';
import type { ExtMessage } from './messages.js';
import { PendingRequests } from './pending.js';

interface Part {
  total: number;
  offset: number;
  bytes: Uint8Array;
}

/**
 * Our object requests to one peer, matched to answers by request id and verified by hash. An
 * object larger than one message (a directory of 10^5 entries) comes in parts, asked one after
 * another by offset, and is verified whole.
 */
export class ObjectClient {
  private readonly pending: PendingRequests<number, Part, { hash: ObjectHash; offset: number }>;
  private nextId = 1;

  constructor(
    clock: Clock,
    private readonly send: (m: ExtMessage) => void,
    private readonly onBadPeer: (reason: string) => void,
  ) {
    this.pending = new PendingRequests(clock);
  }

  async request(hash: ObjectHash, timeoutMs: number): Promise<Uint8Array> {
    const first = await this.part(hash, 0, timeoutMs);
    let whole = first.bytes;
    if (first.total !== first.bytes.length) {
      if (first.total > DEFAULT_LIMITS.maxEncodedBytes) {
        this.onBadPeer(`announced object ${hash} of ${first.total} bytes, above the ${DEFAULT_LIMITS.maxEncodedBytes}-byte limit`);
        throw ChunkswarmError.tooLarge(`object ${hash} from a peer`, first.total, DEFAULT_LIMITS.maxEncodedBytes);
      }
      whole = new Uint8Array(first.total);
      whole.set(first.bytes, 0);
      for (let offset = first.bytes.length; offset < first.total; ) {
        const p = await this.part(hash, offset, timeoutMs);
        if (p.total !== first.total || p.bytes.length === 0) {
          this.onBadPeer(`sent part ${offset} of object ${hash} with total ${p.total} (was ${first.total}) and ${p.bytes.length} bytes`);
          throw new ChunkswarmError('E_BAD_PEER', `peer sent an inconsistent part of object ${hash}`);
        }
        whole.set(p.bytes, offset);
        offset += p.bytes.length;
      }
    }
    const got = hashBytes(whole);
    if (got !== hash) {
      this.onBadPeer(`sent ${whole.length} bytes hashing to ${got} for object ${hash}`);
      throw ChunkswarmError.hashMismatch(`object from peer`, hash, got);
    }
    return whole;
  }

  private part(hash: ObjectHash, offset: number, timeoutMs: number): Promise<Part> {
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffffffff) + 1;
    const answer = this.pending.add(id, { hash, offset }, timeoutMs, () =>
      new ChunkswarmError('E_TIMEOUT', `peer did not answer the request for object ${hash} (from byte ${offset}) within ${timeoutMs} ms`),
    );
    this.send({ type: 'getObject', id, hash, offset });
    return answer;
  }

  onObject(id: number, total: number, offset: number, bytes: Uint8Array): void {
    const asked = this.pending.meta(id);
    if (asked === undefined) return; // late after a timeout
    if (offset !== asked.offset) {
      this.pending.reject(id, new ChunkswarmError('E_BAD_PEER', `peer answered byte ${offset} of object ${asked.hash}, asked for ${asked.offset}`));
      this.onBadPeer(`answered byte ${offset} of object ${asked.hash} when asked for ${asked.offset}`);
      return;
    }
    this.pending.resolve(id, { total, offset, bytes });
  }

  onNoObject(id: number): void {
    const asked = this.pending.meta(id);
    if (asked !== undefined) this.pending.reject(id, ChunkswarmError.notFound(`object ${asked.hash} on this peer`));
  }

  failAll(err: ChunkswarmError): void {
    this.pending.rejectAll(err);
  }
}
