import { once } from 'node:events';
import { isIPv4 } from 'node:net';
import HyperDHT from 'hyperdht';
import { ChunkswarmError, joinHostPort } from '../core/index.js';
import { createDht } from './dht.js';
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
    // would bind its sockets to 0.0.0.0.
    node = HyperDHT.bootstrapper(port, host, { host, bootstrap: peers.map(joinHostPort) });
    // Serving starts once the socket is bound. Joining the other bootstrap nodes goes on in the
    // background: a dead one in the list (the publisher's, say) would hold ready() for ~12 s.
    await Promise.race([once(node, 'listening'), node.ready()]);
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

/**
 * The bootstrap nodes that answer a DHT ping: every node that answers within `graceMs` of the first
 * answer (and within `timeoutMs` of the start); all of them if none does (they may come up later,
 * and hyperdht keeps trying). hyperdht waits on every listed node while it bootstraps, so a dead
 * one (the stopped publisher's, say) would hold a node's start for ~12 s; and waiting the full
 * timeout for it would hold it for that long.
 */
export async function answeringBootstrapNodes(
  nodes: readonly BootstrapAddress[],
  host: string,
  o: { timeoutMs?: number; graceMs?: number } = {},
): Promise<BootstrapAddress[]> {
  if (nodes.length <= 1) return [...nodes];
  const timeoutMs = o.timeoutMs ?? 1000;
  const graceMs = o.graceMs ?? 150;
  // An empty list, not undefined: hyperdht would fall back to the public bootstrap servers.
  const probe = createDht({ bootstrap: [], host, ephemeral: true });
  try {
    await probe.ready();
    const alive = new Set<BootstrapAddress>();
    await new Promise<void>((resolve) => {
      let pending = nodes.length;
      let grace: NodeJS.Timeout | null = null;
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        if (grace) clearTimeout(grace);
        resolve();
      }
      for (const n of nodes) {
        probe.ping({ host: n.host, port: n.port }).then(
          () => {
            alive.add(n);
            grace ??= setTimeout(done, graceMs);
          },
          () => undefined,
        ).finally(() => {
          if (--pending === 0) done();
        });
      }
    });
    return alive.size > 0 ? nodes.filter((n) => alive.has(n)) : [...nodes];
  } finally {
    await probe.destroy();
  }
}
