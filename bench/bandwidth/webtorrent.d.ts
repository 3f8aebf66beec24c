/**
 * The part of webtorrent (2.8.x, a devDependency: the benchmark's stock BitTorrent baseline) that
 * bench/bandwidth/wt-node.ts uses. The package ships no types; keep in step with
 * node_modules/webtorrent/index.js and lib/torrent.js when upgrading.
 */
declare module 'webtorrent' {
  import { EventEmitter } from 'node:events';

  namespace WebTorrent {
    interface Options {
      torrentPort?: number;
      dht?: boolean;
      tracker?: boolean;
      lsd?: boolean;
      natUpnp?: boolean;
      natPmp?: boolean;
      utp?: boolean;
      webSeeds?: boolean;
      /** Bytes per second for the whole client; -1 = unlimited. */
      uploadLimit?: number;
      downloadLimit?: number;
    }

    interface TorrentOptions {
      path?: string;
      pieceLength?: number;
      announceList?: string[][];
      private?: boolean;
    }

    interface Torrent extends EventEmitter {
      readonly infoHash: string;
      readonly torrentFile: Buffer;
      readonly done: boolean;
      readonly length: number;
      addPeer(addr: string): boolean;
    }
  }

  class WebTorrent extends EventEmitter {
    constructor(opts?: WebTorrent.Options);
    readonly torrentPort: number;
    readonly torrents: WebTorrent.Torrent[];
    add(torrentId: Buffer, opts: WebTorrent.TorrentOptions, ontorrent?: (t: WebTorrent.Torrent) => void): WebTorrent.Torrent;
    seed(input: string, opts: WebTorrent.TorrentOptions, onseed?: (t: WebTorrent.Torrent) => void): WebTorrent.Torrent;
    remove(torrent: WebTorrent.Torrent, opts: { destroyStore?: boolean }, cb?: (err?: Error) => void): Promise<void>;
    destroy(cb?: (err?: Error) => void): void;
  }

  export default WebTorrent;
}
