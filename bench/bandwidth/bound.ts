/**
 * The Kumar–Ross lower bound on the time to deliver S bytes to each of n nodes from one source
 * with upload U_src, when every node downloads at most D_min and uploads U_i:
 *   T = max(S / U_src, S / D_min, n·S / (U_src + ΣU_i))
 * No method, however clever, can beat it: the source must send every byte once, the slowest
 * downloader must receive S, and all n·S bytes must be uploaded by someone.
 */
export interface BoundInput {
  /** Bytes each receiving node needs. */
  bytes: number;
  /** Receiving nodes. */
  receivers: number;
  /** Upload of the source(s) of the data. */
  sourceUpload: number;
  /** Slowest download among the receivers. */
  minDownload: number;
  /** Sum of the receivers' uploads (they can pass bytes on to each other). */
  receiversUpload: number;
}

export function kumarRoss(b: BoundInput): number {
  if (b.bytes === 0 || b.receivers === 0) return 0;
  return Math.max(b.bytes / b.sourceUpload, b.bytes / b.minDownload, (b.receivers * b.bytes) / (b.sourceUpload + b.receiversUpload));
}

/**
 * The bound for one of our scenarios with every link capped at `rate`. Cold and incremental: the
 * publisher is the source and the n frontends receive. Bootstrap: the publisher is stopped, the n
 * frontends that hold the release are the sources and the one new node is the only receiver.
 */
export function scenarioBound(scenario: 'cold' | 'incremental' | 'bootstrap', n: number, bytes: number, rate: number): number {
  if (scenario === 'bootstrap') {
    return kumarRoss({ bytes, receivers: 1, sourceUpload: n * rate, minDownload: rate, receiversUpload: 0 });
  }
  return kumarRoss({ bytes, receivers: n, sourceUpload: rate, minDownload: rate, receiversUpload: n * rate });
}

/** First, median and last of the completed times; null when no node completed. */
export function spread(times: Array<number | null>): { first: number | null; median: number | null; last: number | null; incomplete: number } {
  const done = times.filter((t): t is number => t !== null).sort((a, b) => a - b);
  const incomplete = times.length - done.length;
  if (done.length === 0) return { first: null, median: null, last: null, incomplete };
  const mid = done.length >> 1;
  const median = done.length % 2 === 1 ? done[mid]! : (done[mid - 1]! + done[mid]!) / 2;
  return { first: done[0]!, median, last: incomplete > 0 ? null : done[done.length - 1]!, incomplete };
}
