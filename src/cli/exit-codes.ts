import { ChunkswarmError, isChunkswarmError, type ErrorCode } from '../client.js';

/** Exit codes scripts can rely on; `verify` uses its own bitmask (see its help). */
const BY_CODE: Partial<Record<ErrorCode, number>> = {
  E_USAGE: 2,
  E_CONFIG: 3,
  E_KEY: 3,
  E_NO_SPACE: 4,
  E_BAD_SIGNATURE: 5,
  E_WRONG_CLUSTER: 5,
  E_UNSAFE_PATH: 5,
  E_BAD_OBJECT: 5,
  E_HASH_MISMATCH: 5,
  E_FILE_CHANGED: 6,
  E_NOT_FOUND: 7,
  E_PINNED: 8,
  E_DRIFT: 9,
  E_HOOK: 10,
  E_NO_BOOTSTRAP: 3,
  E_LOCKED: 12,
  E_EXISTS: 2,
  E_UNREACHABLE: 13,
  E_TOKEN: 5,
  E_TOKEN_EXPIRED: 5,
  E_TOKEN_REVOKED: 5,
  E_TOKEN_USED: 5,
  E_TOKEN_UNKNOWN: 5,
  E_CONFLICT: 14,
};

/**
 * A system call's error that no layer put in words (an lstat of a path this user may not read,
 * say) is still the system's, and coded as such (E_IO, E_NO_SPACE…): not an internal error.
 */
function coded(err: unknown): unknown {
  const sys = err as NodeJS.ErrnoException | null;
  return !isChunkswarmError(err) && typeof sys?.code === 'string' && typeof sys.syscall === 'string' ? ChunkswarmError.fromSystem(err, sys.syscall) : err;
}

export function exitCodeOf(err: unknown): number {
  const e = coded(err);
  return isChunkswarmError(e) ? (BY_CODE[e.code] ?? 1) : 70;
}

export function describeError(err: unknown): string {
  const e = coded(err);
  if (isChunkswarmError(e)) return `chunkswarm: ${e.code}: ${e.message}`;
  return `chunkswarm: internal error: ${(e as Error)?.stack ?? String(e)}`;
}
