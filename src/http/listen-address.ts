import { splitHostPort } from '../core/index.js';

/** metrics.listen: a bare port means loopback; "host:port" is taken as given. */
export function listenAddress(listen: number | string): { host: string; port: number } {
  if (typeof listen === 'number') return { host: '127.0.0.1', port: listen };
  const { host, port } = splitHostPort(listen);
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
}
