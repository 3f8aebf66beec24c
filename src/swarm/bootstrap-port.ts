import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';

/*
 * Ports for a node's DHT bootstrap node, apart from bootstrap.ts so that the commands that make a
 * node (init, join) do not load hyperdht: every command's start would pay for it.
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
export async function bootstrapPortFor(host: string): Promise<number | null> {
  if (!isIPv4(host) || host === '0.0.0.0') return null;
  const preferred = host.startsWith('127.') ? null : await freeUdpPort(host, DEFAULT_BOOTSTRAP_PORT).catch(() => null);
  return preferred ?? (await freeUdpPort(host).catch(() => null));
}

// Racy in theory (another process may take it before the bootstrap binds), fine for tests and demos.
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
