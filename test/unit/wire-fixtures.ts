import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { asChunkHash, asObjectHash, asReleaseId, Bitfield, type ChunkHash, type ChunkswarmError, type ObjectHash, type ReleaseId } from '../../src/core/index.js';
import type { PieceRange } from '../../src/manifest/index.js';
import { PeerWire, wirePeerId, type NodeStatus, type PeerWireOptions, type SpaceInfo, type WireLimits, type WireModel } from '../../src/wire/index.js';

export const CLUSTER = 'ab'.repeat(32);
export const LIMITS: WireLimits = { maxMessageBytes: 1024 * 1024, maxOutstandingRequestsFromPeer: 64, requestTimeoutMs: 5_000 };

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const chunkHash = (b: Uint8Array): ChunkHash => asChunkHash(sha256(b));
export const objHash = (b: Uint8Array): ObjectHash => asObjectHash(sha256(b));
export const releaseOf = (name: string): ReleaseId => asReleaseId(sha256(Buffer.from(name)));

/** Two in-memory duplexes wired back to back, like the two ends of one connection. */
export function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        peer().push(chunk);
        cb();
      },
      final(cb) {
        peer().push(null);
        cb();
      },
    });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
  return [a, b];
}

export async function tcpPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [serverSide] = await accepted;
  server.close();
  for (const s of [client, serverSide]) s.setNoDelay(true);
  return [client, serverSide];
}

/**
 * A WireModel over memory: pieces and objects to serve (tests reach in to make them stall, lie or
 * fail), an upload gate, and every inbound call re-emitted as an event ('space', 'choke',
 * 'bad-peer', 'close', ...) for tests to wait on.
 */
export class MemoryModel extends EventEmitter implements WireModel {
  /** The upload gate; default: allow everything. */
  gate: (index: number, bytes: number) => boolean | Promise<boolean> = () => true;
  readonly spaces = new Map<ReleaseId, Uint8Array[]>();
  readonly objects = new Map<string, Uint8Array>();
  stall = false;
  readonly reads: number[] = [];

  addSpace(release: ReleaseId, pieces: Uint8Array[]): Bitfield {
    this.spaces.set(release, pieces);
    return Bitfield.full(pieces.length);
  }

  addObject(bytes: Uint8Array): ObjectHash {
    const h = objHash(bytes);
    this.objects.set(h, bytes);
    return h;
  }

  async getObject(hash: ObjectHash): Promise<Uint8Array | null> {
    return this.objects.get(hash) ?? null;
  }

  /** While set, reads wait for it; reads resolve with the space's piece as it was asked for. */
  hold: Promise<void> | null = null;

  async readPiece(space: ReleaseId, index: number, _alloc?: (size: number) => Uint8Array, range?: PieceRange): Promise<Uint8Array | null> {
    this.reads.push(index);
    if (this.stall) return new Promise(() => undefined);
    const bytes = this.spaces.get(space)?.[index] ?? null;
    if (this.hold) await this.hold;
    if (!bytes || !range) return bytes;
    return range.offset + range.length <= bytes.length ? bytes.subarray(range.offset, range.offset + range.length) : null;
  }

  allowUpload(index: number, bytes: number): boolean | Promise<boolean> {
    return this.gate(index, bytes);
  }

  ready(): void {
    this.emit('ready');
  }
  head(bytes: Uint8Array): void {
    this.emit('head', bytes);
  }
  space(space: SpaceInfo): void {
    this.emit('space', space);
  }
  have(index: number): void {
    this.emit('have', index);
  }
  status(status: NodeStatus): void {
    this.emit('status', status);
  }
  driftRequest(id: number, record: string): void {
    this.emit('drift-request', id, record);
  }
  choked(yes: boolean): void {
    this.emit(yes ? 'choke' : 'unchoke');
  }
  interested(yes: boolean): void {
    this.emit(yes ? 'interested' : 'uninterested');
  }
  unchokers(count: number): void {
    this.emit('unchokers', count);
  }
  unreadable(index: number): void {
    this.emit('unreadable', index);
  }
  badPiece(index: number, reason: string): void {
    this.emit('bad-piece', index, reason);
  }
  abuse(reason: string, count: number): void {
    this.emit('abuse', reason, count);
  }
  error(err: ChunkswarmError): void {
    this.emit('wire-error', err);
  }
  closed(reason: ChunkswarmError | null): void {
    if (reason?.code === 'E_BAD_PEER') this.emit('bad-peer', reason.message);
    this.emit('close', reason);
  }
}

export function pieces(sizes: number[]): Uint8Array[] {
  return sizes.map((n) => new Uint8Array(randomBytes(n)));
}

export interface Pair {
  a: PeerWire;
  b: PeerWire;
  modelA: MemoryModel;
  modelB: MemoryModel;
  streams: [Duplex, Duplex];
}

export async function wirePair(
  over: Partial<Omit<PeerWireOptions, 'stream' | 'model' | 'peerId'>> = {},
  streams: [Duplex, Duplex] = duplexPair(),
): Promise<Pair> {
  const modelA = new MemoryModel();
  const modelB = new MemoryModel();
  const opts = { clusterId: CLUSTER, limits: LIMITS, ...over };
  const a = new PeerWire({ ...opts, stream: streams[0], model: modelA, peerId: wirePeerId('node-a') });
  const b = new PeerWire({ ...opts, stream: streams[1], model: modelB, peerId: wirePeerId('node-b') });
  await Promise.all([a.ready(), b.ready()]);
  return { a, b, modelA, modelB, streams };
}

/** Resolves with the arguments of the next `event` on `emitter`. */
export function next<T extends unknown[]>(emitter: { once(e: string, f: (...args: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}

/** BitTorrent frames written by hand, for peers that misbehave. */
export function btFrame(id: number, numbers: number[] = [], tail: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.alloc(5 + 4 * numbers.length + tail.length);
  out.writeUInt32BE(out.length - 4, 0);
  out[4] = id;
  numbers.forEach((n, i) => out.writeUInt32BE(n, 5 + 4 * i));
  out.set(tail, 5 + 4 * numbers.length);
  return out;
}

/** The id our PeerWire registers its extension under (the first and only `wire.use`). */
export const OUR_EXT_ID = 1;

export function extFrame(extId: number, payload: Uint8Array): Buffer {
  return btFrame(20, [], Buffer.concat([Buffer.from([extId]), payload]));
}

export function handshakeBytes(infoHash: Uint8Array, reserved = [0, 0, 0, 0, 0, 0x10, 0, 0x04]): Buffer {
  return Buffer.concat([Buffer.from('\x13BitTorrent protocol', 'latin1'), Buffer.from(reserved), infoHash, randomBytes(20)]);
}

/** A bencoded extended handshake announcing our extension under id 1. */
export const EXT_HANDSHAKE = extFrame(0, Buffer.from('d1:md10:chunkswarmi1eee'));
