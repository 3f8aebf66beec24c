import { createSocket } from 'node:dgram';
import { createServer, isIPv4 } from 'node:net';
import { DEFAULT_DIRECT_PORT } from '../config/schema.js';

/*
 * Ports chosen for a new node (its DHT bootstrap node's, its direct path's), apart from
 * bootstrap.ts so that the commands that make a node (init, join) do not load hyperdht: every
 * command's start would pay for it.
 */

/** The UDP port of a node's DHT bootstrap node unless told otherwise (network.bootstrapPort). */
export const DEFAULT_BOOTSTRAP_PORT = 49737;

/**
 * The bootstrap port for a new node: DEFAULT_BOOTSTRAP_PORT (one port for firewall rules across
 * the cluster), or a free one where another node on this machine holds it, and on loopback, where
 * several nodes share the machine (a trial, the tests) and one that is free now may be another's
 * by the time both run. Chosen once, when the node is made, so that it stays the port its peers
 * remember; null where `host` is no address others can reach (0.0.0.0): such a node runs none.
 */
export async function bootstrapPortFor(host: string, taken: readonly number[] = []): Promise<number | null> {
  if (!isIPv4(host) || host === '0.0.0.0') return null;
  return portFor(host, DEFAULT_BOOTSTRAP_PORT, freeUdpPort, taken);
}

/**
 * The direct path's port for a new node, chosen as bootstrapPortFor chooses: DEFAULT_DIRECT_PORT,
 * or a free one on loopback or where another node on this machine holds it (two frontends tried
 * on one machine as the README shows both took 49738, and the second could not start). Null where
 * no port can be bound on `host` (not this machine's address): the node gets the default, and
 * serve says what is wrong.
 */
export async function directPortFor(host: string, taken: readonly number[] = []): Promise<number | null> {
  return portFor(host, DEFAULT_DIRECT_PORT, freeTcpPort, taken);
}

/** Draws of a free port that may land on a `taken` one before giving up. */
const FREE_PORT_DRAWS = 8;

/**
 * `preferred` where it is free (not on loopback), else a free port the kernel picks that is none of
 * `taken`: the ports of another node on this machine that may not be running now (the node an
 * `init --join` copies, the inviter of a `join` on loopback). The kernel may give the same free
 * port twice in a row (1 in 3,000 consecutive draws here): two loopback nodes then shared one.
 */
export async function portFor(
  host: string,
  preferred: number,
  free: (host: string, port?: number) => Promise<number>,
  taken: readonly number[] = [],
): Promise<number | null> {
  const chosen = host.startsWith('127.') ? null : await free(host, preferred).catch(() => null);
  if (chosen !== null) return chosen;
  for (let draw = 0; draw < FREE_PORT_DRAWS; draw++) {
    const port = await free(host).catch(() => null);
    if (port === null || !taken.includes(port)) return port;
  }
  return null;
}

/**
 * Binds `port` (0: any) on `host` and lets it go: the port, or the bind's error. Racy in theory
 * (another process may take the port before the node binds it): a node then warns and runs without.
 */
export async function freeUdpPort(host: string, port = 0): Promise<number> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, resolve);
    });
    return socket.address().port;
  } finally {
    socket.close();
  }
}

/** Binds `port` (0: any) on `host` and lets it go: the port, or the bind's error. */
export async function freeTcpPort(host: string, port = 0): Promise<number> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, resolve);
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return address.port;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
