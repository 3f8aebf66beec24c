import HyperDHT from 'hyperdht';

/** dht-rpc's port range [from, to) with no port in it: what makes it bind port 0 (hyperdht takes a 0 for "unset"). */
const ANY_PORT: [number, number] = [0, 0];

/**
 * Every DHT node this project makes, with what each one needs:
 * - the bootstrap list given, always: without one hyperdht uses the public bootstrap servers (an
 *   empty list is a node that joins nothing until nodes are put in its table: a prober, or the
 *   swarm's node, whose BootstrapWatch adds each listed node once it answers);
 * - `firewalled: false`: cluster nodes are servers that can reach each other, and hyperdht's
 *   firewall probing made about half of the first connections between two processes fail;
 * - any free UDP port unless `port` names one: without a port hyperdht binds 49737 (or one up to
 *   49741), the DHT bootstrap port. On one machine a frontend's DHT took 49737 while the master
 *   restarted, and the master could not start its bootstrap node.
 */
export function createDht(o: {
  bootstrap: Array<string | HyperDHT.Address>;
  host: string;
  /** network.dhtPort; unset or null: any free port. */
  port?: number | null;
  keyPair?: HyperDHT.KeyPair;
  ephemeral?: boolean;
}): HyperDHT {
  return new HyperDHT({
    bootstrap: o.bootstrap,
    host: o.host,
    port: o.port || ANY_PORT,
    firewalled: false,
    ...(o.keyPair && { keyPair: o.keyPair }),
    ...(o.ephemeral !== undefined && { ephemeral: o.ephemeral }),
  });
}
