import type { PeerWire } from '../wire/index.js';

/** One connected, authenticated peer as the session tracks it. */
export interface SessionPeer {
  /** Hex public key of the remote node (hyperswarm identity). */
  readonly key: string;
  readonly wire: PeerWire;
  /** The remote node said (in its status message) that it holds the publisher key. */
  publisher: boolean;
}
