import { isChunkswarmError, type ErrorCode } from '../index.js';

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

export function exitCodeOf(err: unknown): number {
  return isChunkswarmError(err) ? (BY_CODE[err.code] ?? 1) : 70;
}

export function describeError(err: unknown): string {
  if (isChunkswarmError(err)) return `chunkswarm: ${err.code}: ${err.message}`;
  return `chunkswarm: internal error: ${(err as Error)?.stack ?? String(err)}`;
}
