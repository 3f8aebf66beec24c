/** Compared against in steps of this size: no allocation per call, whatever the length. */
const ZEROS = new Uint8Array(64 * 1024);

/**
 * Whether every byte is 0. A file's holes read as zeros, so such bytes need not be written into a
 * file that is all holes: a sparse file (a VM image, /var/log/lastlog) stays sparse on every node
 * instead of taking its full size on disk. Real data almost never starts and ends with a zero byte,
 * so the common case costs two reads.
 */
export function isZero(bytes: Uint8Array): boolean {
  const n = bytes.length;
  if (n === 0 || bytes[0] !== 0 || bytes[n - 1] !== 0) return n === 0;
  for (let at = 0; at < n; at += ZEROS.length) {
    const end = Math.min(n, at + ZEROS.length);
    if (Buffer.compare(bytes.subarray(at, end), ZEROS.subarray(0, end - at)) !== 0) return false;
  }
  return true;
}
