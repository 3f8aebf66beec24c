/** "host:port" split at its last colon: the port is what follows it (an IPv6 host holds colons of its own). */
export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

/** The other way: an address as "host:port", as config files, tokens and hyperdht take it. */
export function joinHostPort(a: { host: string; port: number }): string {
  return `${a.host}:${a.port}`;
}
