import { isIPv4 } from 'node:net';
import HyperDHT from 'hyperdht';
import { ChunkswarmError } from '../core/index.js';
import { freeUdpPort } from './node-ports.js';

export interface BootstrapAddress {
  host: string;
  port: number;
}

export interface BootstrapNode extends BootstrapAddress {
  close(): Promise<void>;
}

/**
 * Starts a HyperDHT bootstrap node: the private rendezvous of a cluster, so that nodes never
 * depend on (or talk to) the public Hyperswarm bootstrap servers. Without a port, a free UDP port
 * is picked (tests, demo). Every frontend may run one (network.bootstrapPort) and list the others
 * in network.bootstrap: then no single box is needed for a node to find the swarm.
 */
export async function startBootstrapNode(
  opts: { host?: string; port?: number; peers?: readonly BootstrapAddress[] } = {},
): Promise<BootstrapNode> {
  const host = opts.host ?? '127.0.0.1';
  // Other nodes learn the bootstrap's address from the bootstrap itself, so it must be concrete.
  if (!isIPv4(host) || host === '0.0.0.0') {
    throw ChunkswarmError.config('bootstrap host', `${JSON.stringify(host)} must be the IPv4 address other nodes reach this host on (not 0.0.0.0)`);
  }
  const port = opts.port || (await freeUdpPort(host));
  let node: HyperDHT;
  try {
    // Joined to the cluster's other bootstrap nodes, so that any one of them can introduce a new
    // node while another (the publisher's, say) is down.
    const peers = (opts.peers ?? []).filter((p) => !(p.host === host && p.port === port));
    // `host` twice: bootstrapper() uses its own argument only for the address it announces and
    // would bind its sockets to 0.0.0.0. No bootstrap list of its own: a bootstrap node takes
    // announcements and answers lookups only once its first query is over, and a dead node in the
    // list (a frontend that is not up yet) held that query, and so the cluster's rendezvous, for
    // 6 s. A ping instead: each live one that answers enters this node's table as this node enters
    // its own, and one that comes up later pings this one. Only answering nodes in the table:
    // every query that asks this node is handed its table, and would wait out a dead one in it.
    node = HyperDHT.bootstrapper(port, host, { host, bootstrap: [] });
    await node.fullyBootstrapped();
    for (const peer of peers) node.ping(peer).catch(() => undefined);
  } catch (err) {
    throw new ChunkswarmError('E_IO', `cannot start the DHT bootstrap node on ${host}:${port}: ${(err as Error).message}`, { cause: err });
  }
  let closing: Promise<void> | null = null;
  return {
    host,
    port,
    close: () => (closing ??= node.destroy()),
  };
}
