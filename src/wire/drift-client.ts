import { ChunkswarmError, type Clock } from '../core/index.js';
import type { DriftMessage } from './drift-messages.js';
import { PendingRequests } from './pending.js';

/** Our drift record requests to one peer, matched to answers by request id. */
export class DriftClient {
  private readonly pending: PendingRequests<number, Uint8Array, string>;
  private nextId = 1;

  constructor(clock: Clock, private readonly send: (m: DriftMessage) => void) {
    this.pending = new PendingRequests(clock);
  }

  request(record: string, timeoutMs: number): Promise<Uint8Array> {
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffffffff) + 1;
    const answer = this.pending.add(id, record, timeoutMs, () =>
      new ChunkswarmError('E_TIMEOUT', `peer did not answer the request for drift record ${record || '(newest)'} within ${timeoutMs} ms`),
    );
    this.send({ type: 'getDrift', id, record });
    return answer;
  }

  /** A late answer (after its timeout) is dropped. */
  onDrift(id: number, bytes: Uint8Array): void {
    this.pending.resolve(id, bytes);
  }

  failAll(err: ChunkswarmError): void {
    this.pending.rejectAll(err);
  }
}
