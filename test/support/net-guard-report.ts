/** Shared by the net guard (loaded into child processes) and the tests that read its reports. */
export const NET_GUARD_REPORT_ENV = 'NET_GUARD_REPORT';
export const NET_GUARD_REFUSE_ENV = 'NET_GUARD_REFUSE';
export const NET_GUARD_EXIT_CODE = 86;

/** A destination, or with a "-bind" proto an address the process bound (listening or sending from). */
export interface Destination {
  proto: 'tcp' | 'udp' | 'udx' | 'udx-stream' | 'tcp-bind' | 'udp-bind' | 'udx-bind';
  host: string;
  port: number;
}

export interface NetGuardReport {
  loopback: Destination[];
  nonLoopback: Destination[];
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}
