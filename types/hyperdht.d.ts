/**
 * The part of hyperdht (6.x) that chunkswarm uses. The package ships no types; keep this in step
 * with node_modules/hyperdht/index.js and @hyperswarm/secret-stream when upgrading.
 */
declare module 'hyperdht' {
  import { EventEmitter } from 'node:events';

  namespace HyperDHT {
    interface KeyPair {
      publicKey: Buffer;
      secretKey: Buffer;
    }

    interface Address {
      host: string;
      port: number;
    }

    interface Options {
      /** Without it hyperdht falls back to the public bootstrap nodes: always pass one. */
      bootstrap?: Array<string | Address>;
      host?: string;
      /** A port to try (then the next 4, then any), or a range [from, to) to try. */
      port?: number | [number, number];
      anyPort?: boolean;
      ephemeral?: boolean;
      firewalled?: boolean;
      keyPair?: KeyPair;
      connectionKeepAlive?: number | false;
    }

    /** @hyperswarm/secret-stream's NoiseSecretStream (a streamx Duplex), as handed out by connections. */
    interface NoiseSecretStream extends EventEmitter {
      readonly isInitiator: boolean;
      readonly publicKey: Buffer;
      readonly remotePublicKey: Buffer;
      /** Same on both ends of one Noise session; null until the handshake is done. */
      readonly handshakeHash: Buffer | null;
      /** Resolves true once the handshake is done, false if the stream closed first. */
      readonly opened: Promise<boolean>;
      readonly rawStream: { remoteHost?: string | null; remotePort?: number } | null;
      readonly destroyed: boolean;
      write(data: Uint8Array): boolean;
      end(data?: Uint8Array): this;
      destroy(err?: Error): void;
      pause(): this;
      resume(): this;
      setKeepAlive(ms: number): void;
    }

    interface ConnectOptions {
      /** Our static key for the Noise handshake (default: the DHT's own). */
      keyPair?: KeyPair;
    }

    /** A server listening on one key pair; its connections are NoiseSecretStreams. */
    interface Server extends EventEmitter {
      listen(keyPair?: KeyPair): Promise<void>;
      /** Announce again at the announcer's next step (~3 s), to the nodes now closest to the key. */
      refresh(): void;
      close(): Promise<void>;
    }
  }

  class HyperDHT extends EventEmitter {
    constructor(opts?: HyperDHT.Options);
    static keyPair(seed?: Uint8Array): HyperDHT.KeyPair;
    /** A persistent node with an empty bootstrap list, on a fixed host and port. */
    static bootstrapper(port: number, host: string, opts?: HyperDHT.Options): HyperDHT;
    readonly destroyed: boolean;
    ready(): Promise<void>;
    fullyBootstrapped(): Promise<void>;
    /** dht-rpc's: puts a node in the routing table unasked (a dead one is dropped when a request to it times out). */
    addNode(node: HyperDHT.Address): void;
    /** dht-rpc's: the nodes of the routing table, newest first. */
    toArray(opts?: { limit?: number }): HyperDHT.Address[];
    /** dht-rpc's PING to one node; rejects on timeout after hyperdht's own retries. */
    ping(to: HyperDHT.Address): Promise<unknown>;
    address(): { host: string; port: number; family: number };
    /** A Noise connection to the server that listens on remotePublicKey (found through the DHT). */
    connect(remotePublicKey: Uint8Array, opts?: HyperDHT.ConnectOptions): HyperDHT.NoiseSecretStream;
    createServer(opts: { firewall?: (remotePublicKey: Buffer) => boolean }, onConnection: (conn: HyperDHT.NoiseSecretStream) => void): HyperDHT.Server;
    destroy(opts?: { force?: boolean }): Promise<void>;
  }

  export = HyperDHT;
}
