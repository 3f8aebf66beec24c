/**
 * The part of bittorrent-protocol 5.x that src/wire uses. The package is ESM-only and ships no
 * types; this is written from its index.js and README, and covers nothing else.
 */
declare module 'bittorrent-protocol' {
  /** What the wire keeps of the peer's pieces; src/wire replaces it with its own per-space view. */
  export interface WirePieceSet {
    get(index: number): boolean;
    set(index: number, value?: boolean): void;
  }

  export interface WireRequest {
    piece: number;
    offset: number;
    length: number;
  }

  export type WireRequestCallback = (err: Error | null, block?: Uint8Array | null) => void;
  export type WireRespond = (err: Error | null, block?: Uint8Array) => void;

  /** A BEP-10 extension instance; `wire.use()` fills in missing hooks. */
  export interface WireExtension {
    readonly name: string;
    onHandshake?(infoHash: string, peerId: string, extensions: Record<string, boolean>): void;
    onExtendedHandshake?(handshake: Record<string, unknown>): void;
    onMessage?(payload: Uint8Array): void;
  }

  export interface WireExtensionClass {
    new (wire: Wire): WireExtension;
    readonly prototype: { readonly name: string };
  }

  export default class Wire {
    /** peEnabled 0 = no message stream encryption (our stream is already encrypted). */
    constructor(type?: string, peEnabled?: number);

    peerId: string | null;
    amChoking: boolean;
    amInterested: boolean;
    peerChoking: boolean;
    peerInterested: boolean;
    hasFast: boolean;
    peerPieces: WirePieceSet;
    /** extension name -> the peer's message id, from the peer's extended handshake. */
    peerExtendedMapping: Record<string, number>;
    /** Extra keys of our BEP-10 handshake (beside "m"), sent once the peer's handshake arrived. */
    extendedHandshake: Record<string, unknown>;
    /** The peer's BEP-10 handshake, bencode-decoded (integers as numbers). */
    peerExtendedHandshake: Record<string, unknown>;
    /** Our outgoing requests not yet answered. */
    requests: WireRequest[];
    /** The peer's requests we have not answered yet. */
    peerRequests: WireRequest[];
    uploaded: number;
    downloaded: number;
    readonly destroyed: boolean;

    use(extension: WireExtensionClass): void;
    handshake(infoHash: string | Uint8Array, peerId: string | Uint8Array, extensions?: { dht?: boolean; fast?: boolean }): void;
    choke(): void;
    unchoke(): void;
    interested(): void;
    uninterested(): void;
    have(index: number): void;
    request(index: number, offset: number, length: number, cb?: WireRequestCallback): void;
    cancel(index: number, offset: number, length: number): void;
    extended(ext: string | number, payload: Uint8Array): void;

    // streamx Duplex: the BitTorrent byte stream goes in through write() and out through 'data'.
    write(data: Uint8Array): boolean;
    end(): void;
    destroy(): void;
    pause(): this;
    resume(): this;

    on(event: 'data', listener: (data: Uint8Array) => void): this;
    on(event: 'handshake', listener: (infoHash: string, peerId: string, extensions: Record<string, boolean>) => void): this;
    on(event: 'extended', listener: (ext: string | number, payload: unknown) => void): this;
    on(event: 'have', listener: (index: number) => void): this;
    on(event: 'request', listener: (index: number, offset: number, length: number, respond: WireRespond) => void): this;
    on(event: 'piece', listener: (index: number, offset: number, block: Uint8Array) => void): this;
    on(event: 'upload' | 'download', listener: (bytes: number) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'choke' | 'unchoke' | 'interested' | 'uninterested' | 'drain' | 'finish' | 'close', listener: () => void): this;
  }
}
