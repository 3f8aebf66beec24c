import { ChunkswarmError, type Clock, type ObjectHash } from '../core/index.js';
import { DEFAULT_LIMITS, hashBytes } from '../manifest/index.js';
import { MAX_BATCH_OBJECTS, type ExtMessage } from './messages.js';
import { PendingRequests } from './pending.js';

/**
 * Single requests under way at once to a peer that does not take batches: what fetchObjects kept
 * under way before batches, below the peers' default limit of 64 outstanding requests (an older
 * node counts each request past its limit as abuse).
 */
const MAX_SINGLES = 48;

interface Part {
  total: number;
  offset: number;
  bytes: Uint8Array;
}

/**
 * Our object requests to one peer, matched to answers by request id and verified by hash. An
 * object larger than one message (a directory of 10^5 entries) comes in parts, asked one after
 * another by offset, and is verified whole.
 *
 * With a peer that takes batches (`batching`), the requests made in one turn of the event loop go
 * out as getObjects messages of up to MAX_BATCH_OBJECTS hashes, answered by one objects message
 * each: a release of 10^5 small objects cost one message each way per object, and their framing,
 * not the objects, was most of a new node's first seconds. Each request keeps its own timeout.
 */
export class ObjectClient {
  private readonly pending: PendingRequests<number, Part, { hash: ObjectHash; offset: number }>;
  private nextId = 1;
  /** Whether the peer answers getObjects (it said so in its extended handshake). */
  batching = false;
  /** Batched requests by request id, each settled once (answer, error or timeout). */
  private readonly asked: PendingRequests<number, Uint8Array, { hash: ObjectHash; timeoutMs: number }>;
  /** Request ids waiting for the end of this turn of the event loop to go out together. */
  private queue: number[] = [];
  private flushing = false;
  /** The request ids of each getObjects sent, in its order, by message id. */
  private readonly batches = new Map<number, number[]>();
  /** Single requests under way, and those waiting for one of them to end (no batches). */
  private singles = 0;
  private readonly waiting: Array<{ go: () => void; fail: (err: Error) => void }> = [];

  constructor(
    clock: Clock,
    private readonly send: (m: ExtMessage) => void,
    private readonly onBadPeer: (reason: string) => void,
  ) {
    this.pending = new PendingRequests(clock);
    this.asked = new PendingRequests(clock);
  }

  request(hash: ObjectHash, timeoutMs: number): Promise<Uint8Array> {
    if (!this.batching) return this.single(hash, timeoutMs);
    const id = this.newId();
    const answer = this.asked.add(id, { hash, timeoutMs }, timeoutMs, () =>
      new ChunkswarmError('E_TIMEOUT', `peer did not answer the request for object ${hash} within ${timeoutMs} ms`),
    );
    this.enqueue([id]);
    return answer;
  }

  /**
   * The answer to getObjects `id`: each item is checked against the hash asked at its place. Items
   * the answer did not hold (its message was full) are asked again; an object too large for any
   * answer (none held) is asked alone, in parts.
   */
  onObjects(id: number, items: ReadonlyArray<Uint8Array | null>): void {
    const ids = this.batches.get(id);
    if (ids === undefined) return; // late after every request of it timed out, or never ours
    this.batches.delete(id);
    if (items.length > ids.length) {
      this.onBadPeer(`answered ${items.length} objects to a request for ${ids.length}`);
      return;
    }
    items.forEach((bytes, i) => {
      const rid = ids[i]!;
      const hash = this.asked.meta(rid)?.hash;
      if (hash === undefined) return;
      if (bytes === null) return void this.asked.reject(rid, ChunkswarmError.notFound(`object ${hash} on this peer`));
      const wrong = mismatch(hash, bytes);
      if (wrong === null) return void this.asked.resolve(rid, bytes);
      // Settled before the peer is dropped, which fails whatever is still pending with E_CLOSED.
      this.asked.reject(rid, wrong.error);
      this.onBadPeer(wrong.reason);
    });
    const rest = ids.slice(items.length).filter((rid) => this.asked.meta(rid) !== undefined);
    if (items.length > 0) return this.enqueue(rest);
    const first = rest.shift();
    if (first !== undefined) {
      const { hash, timeoutMs } = this.asked.meta(first)!;
      this.requestAlone(hash, timeoutMs).then(
        (bytes) => this.asked.resolve(first, bytes),
        (err: Error) => this.asked.reject(first, err),
      );
    }
    this.enqueue(rest);
  }

  private enqueue(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.queue.push(...ids);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const queue = this.queue.filter((rid) => this.asked.meta(rid) !== undefined);
      this.queue = [];
      // A batch the peer never answered is forgotten once none of its requests waits for it.
      for (const [id, ids] of this.batches) if (!ids.some((rid) => this.asked.meta(rid) !== undefined)) this.batches.delete(id);
      for (let i = 0; i < queue.length; i += MAX_BATCH_OBJECTS) {
        const ids = queue.slice(i, i + MAX_BATCH_OBJECTS);
        const id = this.newId();
        this.batches.set(id, ids);
        this.send({ type: 'getObjects', id, hashes: ids.map((rid) => this.asked.meta(rid)!.hash) });
      }
    });
  }

  private async single(hash: ObjectHash, timeoutMs: number): Promise<Uint8Array> {
    if (this.singles >= MAX_SINGLES) await new Promise<void>((go, fail) => this.waiting.push({ go, fail }));
    this.singles++;
    try {
      return await this.requestAlone(hash, timeoutMs);
    } finally {
      this.singles--;
      this.waiting.shift()?.go();
    }
  }

  private newId(): number {
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffffffff) + 1;
    return id;
  }

  private async requestAlone(hash: ObjectHash, timeoutMs: number): Promise<Uint8Array> {
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
    const wrong = mismatch(hash, whole);
    if (wrong === null) return whole;
    this.onBadPeer(wrong.reason);
    throw wrong.error;
  }

  private part(hash: ObjectHash, offset: number, timeoutMs: number): Promise<Part> {
    const id = this.newId();
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
    this.asked.rejectAll(err);
    this.batches.clear();
    this.queue = [];
    for (const w of this.waiting.splice(0)) w.fail(err);
  }
}

/** Why bytes a peer sent are not object `hash`, or null: the one check a fetched object gets. */
function mismatch(hash: ObjectHash, bytes: Uint8Array): { error: ChunkswarmError; reason: string } | null {
  const got = hashBytes(bytes);
  if (got === hash) return null;
  return { error: ChunkswarmError.hashMismatch('object from peer', hash, got), reason: `sent ${bytes.length} bytes hashing to ${got} for object ${hash}` };
}
