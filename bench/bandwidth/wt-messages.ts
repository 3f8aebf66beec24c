/** The IPC messages between bench/bandwidth/method-webtorrent.ts and its node processes (wt-node.ts). */

export type ToNode =
  /** Create a torrent of `dir` (a tree) and seed it from where it lies. */
  | { type: 'seed'; dir: string; pieceLength: number }
  /** Drop the torrents held so far (keeping their files) and add this one, stored under `path`. */
  | { type: 'add'; torrent: string; path: string }
  /** Connect to these peers (address:port: 127.0.0.1, or a bench --netns namespace) for the torrent last added or seeded. */
  | { type: 'connect'; peers: string[] }
  | { type: 'stats' };

export type FromNode =
  | { type: 'listening'; port: number }
  | { type: 'seeded'; torrent: string; seconds: number }
  /** The torrent was added and the files already present were verified. */
  | { type: 'ready' }
  | { type: 'done' }
  /** The first payload byte of the torrent last added. */
  | { type: 'first-byte' }
  /** Payload bytes since the process started, over all torrents. */
  | { type: 'stats'; uploaded: number; received: number }
  | { type: 'error'; message: string };
