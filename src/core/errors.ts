/**
 * One error class for the whole library. `code` is stable and is what tests, the CLI's exit codes
 * and scripts match on; `message` is written for the sysadmin reading it.
 */
export type ErrorCode =
  | 'E_BAD_SIGNATURE'
  | 'E_WRONG_CLUSTER'
  | 'E_STALE_VERSION'
  | 'E_UNSAFE_PATH'
  | 'E_BAD_OBJECT'
  | 'E_TOO_LARGE'
  | 'E_HASH_MISMATCH'
  | 'E_NOT_FOUND'
  | 'E_CONFIG'
  | 'E_KEY'
  | 'E_NO_SPACE'
  | 'E_IO'
  | 'E_FILE_CHANGED'
  | 'E_NO_BOOTSTRAP'
  | 'E_AUTH'
  | 'E_PROTOCOL'
  | 'E_TIMEOUT'
  | 'E_BAD_PEER'
  | 'E_BUSY'
  | 'E_DRIFT'
  | 'E_HOOK'
  | 'E_USAGE'
  | 'E_CLOSED'
  | 'E_PINNED'
  | 'E_LOCKED'
  | 'E_EXISTS'
  | 'E_UNREACHABLE'
  | 'E_TOKEN'
  | 'E_TOKEN_EXPIRED'
  | 'E_TOKEN_REVOKED'
  | 'E_TOKEN_USED'
  | 'E_TOKEN_UNKNOWN'
  | 'E_CONFLICT';

export class ChunkswarmError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChunkswarmError';
    this.code = code;
  }

  static badSignature(what: string): ChunkswarmError {
    return new ChunkswarmError('E_BAD_SIGNATURE', `${what}: signature does not verify with the cluster's publisher key`);
  }

  static wrongCluster(expected: string, got: string): ChunkswarmError {
    return new ChunkswarmError('E_WRONG_CLUSTER', `release belongs to cluster ${got}, this node is in cluster ${expected}`);
  }

  static unsafePath(path: string, why: string): ChunkswarmError {
    return new ChunkswarmError('E_UNSAFE_PATH', `unsafe path ${JSON.stringify(path)}: ${why}`);
  }

  static badObject(why: string): ChunkswarmError {
    return new ChunkswarmError('E_BAD_OBJECT', `malformed object: ${why}`);
  }

  static tooLarge(what: string, got: number | bigint, limit: number | bigint): ChunkswarmError {
    return new ChunkswarmError('E_TOO_LARGE', `${what} is ${got}, above the limit of ${limit}`);
  }

  static hashMismatch(what: string, expected: string, got: string): ChunkswarmError {
    return new ChunkswarmError('E_HASH_MISMATCH', `${what}: expected hash ${expected}, got ${got}`);
  }

  static notFound(what: string): ChunkswarmError {
    return new ChunkswarmError('E_NOT_FOUND', `${what} not found`);
  }

  static config(field: string, why: string): ChunkswarmError {
    return new ChunkswarmError('E_CONFIG', `config field "${field}": ${why}`);
  }

  static usage(why: string): ChunkswarmError {
    return new ChunkswarmError('E_USAGE', why);
  }

  /** Maps a Node.js system error to a coded one; ENOSPC/EDQUOT become E_NO_SPACE. */
  static fromSystem(err: unknown, doing: string): ChunkswarmError {
    if (err instanceof ChunkswarmError) return err;
    const sys = err as NodeJS.ErrnoException;
    if (sys?.code === 'ENOSPC' || sys?.code === 'EDQUOT') {
      return new ChunkswarmError('E_NO_SPACE', `no space left on device while ${doing}`, { cause: err });
    }
    if (sys?.code === 'ENOENT') {
      return new ChunkswarmError('E_NOT_FOUND', `${doing}: ${sys.path ?? 'path'} does not exist`, { cause: err });
    }
    const socket = sys?.code ? SOCKET_PLAIN[sys.code] : undefined;
    if (socket) return new ChunkswarmError('E_IO', `${doing}: ${socket} (${sys.code})`, { cause: err });
    const why = sys?.code ? PLAIN[sys.code] : undefined;
    if (why) return new ChunkswarmError('E_IO', `${doing}: ${sys.path ?? 'path'}: ${why} (${sys.code})`, { cause: err });
    const detail = sys?.code ? `${sys.code} ${sys.path ?? ''}`.trim() : String((err as Error)?.message ?? err);
    return new ChunkswarmError('E_IO', `${doing}: ${detail}`, { cause: err });
  }
}

/** System errors a sysadmin meets on a misconfigured node, in words. */
const PLAIN: Record<string, string> = {
  EACCES: 'permission denied: run chunkswarm as the user that owns it, or fix its permissions',
  EPERM: 'operation not permitted for this user',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many symbolic links, or a symbolic link where none may be',
};

/** Errors said without the system's path: a socket's have none, and a path too long is in `doing` already (4 KB twice). */
const SOCKET_PLAIN: Record<string, string> = {
  EADDRINUSE: 'another process holds this port',
  EADDRNOTAVAIL: "this address is not one of this machine's (network.host)",
  ENAMETOOLONG: 'the path is longer than the system allows (4096 bytes in all, 255 for one name)',
};

export function isChunkswarmError(err: unknown, code?: ErrorCode): err is ChunkswarmError {
  return err instanceof ChunkswarmError && (code === undefined || err.code === code);
}
