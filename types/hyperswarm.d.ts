/**
 * The part of hyperswarm (4.x) that chunkswarm uses. The package ships no types; keep this in step
 * with node_modules/hyperswarm/index.js and lib/peer-discovery.js when upgrading.
 */
declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events';
  import HyperDHT from 'hyperdht';

  namespace Hyperswarm {
    interface Options {
      dht?: HyperDHT;
      keyPair?: HyperDHT.KeyPair;
      maxPeers?: number;
      /** Return true to refuse the peer; hyperswarm then bans it for the swarm's lifetime. */
      firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean;
    }

    interface JoinOptions {
      server?: boolean;
      client?: boolean;
    }

    interface PeerInfo {
      readonly publicKey: Buffer;
      readonly client: boolean;
      readonly banned: boolean;
      /** Unban: hyperswarm connects to the peer again (a firewalled peer stays banned otherwise). */
      ban(banned: boolean): void;
    }

    interface PeerDiscoverySession {
      /** Announces (server) and/or looks up (client) again; resolves when that query ends. */
      refresh(opts?: JoinOptions): Promise<boolean>;
      /** Resolves once the first announce/lookup has finished. */
      flushed(): Promise<boolean>;
      destroy(): Promise<void>;
    }
  }

  class Hyperswarm extends EventEmitter {
    constructor(opts?: Hyperswarm.Options);
    readonly keyPair: HyperDHT.KeyPair;
    readonly dht: HyperDHT;
    readonly connections: Set<HyperDHT.NoiseSecretStream>;
    /** Every peer seen, by hex public key. */
    readonly peers: Map<string, Hyperswarm.PeerInfo>;
    readonly destroyed: boolean;
    join(topic: Uint8Array, opts?: Hyperswarm.JoinOptions): Hyperswarm.PeerDiscoverySession;
    leave(topic: Uint8Array): Promise<void>;
    flush(): Promise<boolean>;
    destroy(opts?: { force?: boolean }): Promise<void>;
    on(event: 'connection', listener: (conn: HyperDHT.NoiseSecretStream, info: Hyperswarm.PeerInfo) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export = Hyperswarm;
}
