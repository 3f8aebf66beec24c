import { isChunkswarmError, type ErrorCode } from '../../src/core/index.js';

/** The code a call fails with: 'none' if it succeeds, 'foreign' for an uncoded exception. */
export function codeOf(fn: () => unknown): ErrorCode | 'none' | 'foreign' {
  try {
    fn();
    return 'none';
  } catch (err) {
    return isChunkswarmError(err) ? err.code : 'foreign';
  }
}
