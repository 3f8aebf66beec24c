/**
 * The part of @hyperswarm/secret-stream (6.x) that chunkswarm uses: the Noise handshake plus
 * libsodium secretstream encryption that hyperswarm connections use, here over a TCP socket. The
 * package ships no types; keep this in step with node_modules/@hyperswarm/secret-stream/index.js.
 */
declare module '@hyperswarm/secret-stream' {
  import type { Duplex } from 'node:stream';
  import type HyperDHT from 'hyperdht';

  namespace NoiseSecretStream {
    interface Options {
      /** This node's static key pair; the same one its hyperswarm connections use. */
      keyPair?: HyperDHT.KeyPair;
      /** Initiator only: the key the responder must prove it holds. */
      remotePublicKey?: Uint8Array;
      /** Noise pattern, default 'XX'. */
      pattern?: string;
    }
  }

  // streamx Duplex: 'data', 'drain', 'end', 'close', 'error' as a Node Duplex; write() takes no callback.
  interface NoiseSecretStream extends HyperDHT.NoiseSecretStream {}
  class NoiseSecretStream {
    constructor(isInitiator: boolean, rawStream: Duplex, opts?: NoiseSecretStream.Options);
    /**
     * A buffer of `length` bytes to fill and pass to the very next write(): it is encrypted in
     * place, without the copy write() otherwise makes. Any other write in between voids it.
     */
    alloc(length: number): Buffer;
    /** Puts bytes back at the front of the readable side. */
    unshift(data: Uint8Array): void;
  }

  export = NoiseSecretStream;
}
