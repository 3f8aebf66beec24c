import { ChunkswarmError, type Clock, type ObjectHash } from '../core/index.js';
import { hashBytes } from '../manifest/index.js';
import type { ExtMessage } from './messages.js';
import { PendingRequests } from './pending.js';

/** Our object requests to one peer, matched to answers by request id and verified by hash. */
export class ObjectClient {
  private readonly pending: PendingRequests<number, Uint8Array, ObjectHash>;
  private nextId = 1;

  constructor(
    clock: Clock,
    private readonly send: (m: ExtMessage) => void,
    private readonly onBadPeer: (reason: string) => void,
  ) {
    this.pending = new PendingRequests(clock);
  }

  request(hash: ObjectHash, timeoutMs: number): Promise<Uint8Array> {
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffffffff) + 1;
    const answer = this.pending.add(id, hash, timeoutMs, () =>
      new ChunkswarmError('E_TIMEOUT', `peer did not answer the request for object ${hash} within ${timeoutMs} ms`),
    );
    this.send({ type: 'getObject', id, hash });
    return answer;
  }

  onObject(id: number, bytes: Uint8Array): void {
    const hash = this.pending.meta(id);
    if (hash === undefined) return; // late after a timeout
    const got = hashBytes(bytes);
    if (got !== hash) {
      this.pending.reject(id, ChunkswarmError.hashMismatch(`object from peer`, hash, got));
      this.onBadPeer(`sent ${bytes.length} bytes hashing to ${got} for object ${hash}`);
      return;
    }
    this.pending.resolve(id, bytes);
  }

  onNoObject(id: number): void {
    const hash = this.pending.meta(id);
    if (hash !== undefined) this.pending.reject(id, ChunkswarmError.notFound(`object ${hash} on this peer`));
  }

  failAll(err: ChunkswarmError): void {
    this.pending.rejectAll(err);
  }
}
