import type { PeerPath } from '../swarm/index.js';
import type { WireControl } from '../wire/index.js';

/** One connected, authenticated peer as the session tracks it. */
export interface SessionPeer {
  /** Hex public key of the remote node (hyperswarm identity). */
  readonly key: string;
  readonly wire: WireControl;
  /** How its bytes travel: a direct TCP connection, or the hyperswarm one. */
  readonly path: PeerPath;
  /** The remote node said (in its status message) that it holds the publisher key. */
  publisher: boolean;
}
