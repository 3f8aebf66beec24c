import { createHash } from 'node:crypto';
import { ChunkswarmError } from '../core/index.js';

const INFO_HASH_CONTEXT = 'chunkswarm wire v2 info-hash\n';
const PEER_ID_CONTEXT = 'chunkswarm wire v1 peer-id\n';
const HEX40 = /^[0-9a-f]{40}$/;

/**
 * The 20-byte BitTorrent info-hash every connection of a cluster handshakes with. It is constant
 * per cluster because the piece space moves per release inside the connection (our 'space'
 * message), and a peer of another cluster is refused at the handshake. The version in it changes
 * when nodes would no longer agree on a release's pieces (v2: pieces sized by bytes / 256, see
 * pieceTarget), so that an old node and a new one refuse each other instead of trading pieces
 * that fail every check.
 */
export function clusterInfoHash(clusterId: string): Uint8Array {
  return createHash('sha256').update(INFO_HASH_CONTEXT).update(clusterId).digest().subarray(0, 20);
}

/** A 40-hex wire peer id from a longer node key (e.g. the hyperswarm public key). */
export function wirePeerId(key: string | Uint8Array): string {
  return createHash('sha256').update(PEER_ID_CONTEXT).update(key).digest('hex').slice(0, 40);
}

export function checkPeerId(peerId: string): string {
  if (!HEX40.test(peerId)) {
    throw new ChunkswarmError('E_USAGE', `wire peer id must be 40 lowercase hex characters (20 bytes), got ${JSON.stringify(peerId)}; derive one with wirePeerId()`);
  }
  return peerId;
}
