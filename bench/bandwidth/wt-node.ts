/**
 * One stock BitTorrent node of the bandwidth benchmark: a webtorrent client in its own process,
 * driven over IPC by method-webtorrent.ts. Every discovery mechanism is off (DHT, trackers, LSD,
 * UPnP, NAT-PMP, web seeds) and uTP too, so it talks only to the peers it is given (127.0.0.1, or
 * the addresses of bench --netns's namespaces); the link caps are webtorrent's own throttles, or
 * none (rate 0) where the kernel shapes the links.
 *   node wt-node.js <bytesPerSec | 0>
 */
import WebTorrent from 'webtorrent';
import type { FromNode, ToNode } from './wt-messages.js';

const rate = Number(process.argv[2]);
if (!process.send || !(rate >= 0)) {
  console.error('usage: wt-node.js <bytesPerSec | 0> (started by the benchmark over IPC)');
  process.exit(2);
}

const send = (m: FromNode) => process.send!(m);
const client = new WebTorrent({
  dht: false, tracker: false, lsd: false, natUpnp: false, natPmp: false, utp: false, webSeeds: false,
  // -1: webtorrent's "no limit".
  uploadLimit: rate || -1, downloadLimit: rate || -1,
});
let uploaded = 0;
let received = 0;
let current: WebTorrent.Torrent | null = null;
let firstByteSent = true;

client.on('upload', (n: number) => (uploaded += n));
client.on('download', (n: number) => {
  received += n;
  if (firstByteSent) return;
  firstByteSent = true;
  send({ type: 'first-byte' });
});
client.on('error', (err: Error) => send({ type: 'error', message: err.message }));
client.on('listening', () => send({ type: 'listening', port: client.torrentPort }));

function watch(t: WebTorrent.Torrent): void {
  current = t;
  t.on('error', (err: Error) => send({ type: 'error', message: err.message }));
  t.once('done', () => send({ type: 'done' }));
}

async function handle(m: ToNode): Promise<void> {
  switch (m.type) {
    case 'seed': {
      const t0 = performance.now();
      // No tracker URLs in the torrent: nothing in it points outside 127.0.0.1.
      client.seed(m.dir, { pieceLength: m.pieceLength, announceList: [] }, (t) => {
        watch(t);
        send({ type: 'seeded', torrent: Buffer.from(t.torrentFile).toString('base64'), seconds: (performance.now() - t0) / 1000 });
      });
      break;
    }
    case 'add': {
      // The previous release's torrent goes; its files stay and are verified against the new one.
      for (const t of [...client.torrents]) await client.remove(t, { destroyStore: false });
      firstByteSent = false;
      const t = client.add(Buffer.from(m.torrent, 'base64'), { path: m.path });
      watch(t);
      t.once('ready', () => send({ type: 'ready' }));
      break;
    }
    case 'connect':
      for (const p of m.peers) current?.addPeer(p);
      break;
    case 'stats':
      send({ type: 'stats', uploaded, received });
      break;
  }
}

process.on('message', (m: ToNode) => {
  handle(m).catch((err: Error) => send({ type: 'error', message: err.message }));
});
process.on('disconnect', () => client.destroy(() => process.exit(0)));
