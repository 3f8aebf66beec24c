/** What a log line may carry besides its message, as fields a log collector can filter on. */
export interface LogFields {
  /** The ChunkswarmError code, where the line reports one. */
  code?: string;
  /** The release version the line is about. */
  release?: number;
  /** The remote node's public key (hex), or its first characters. */
  peer?: string;
}

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * The library's logging: a level is a field, never a word in the message, so that `--quiet` and
 * `--log-format json` can rely on it. The CLI decides how lines look (src/cli/logger.ts).
 */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function loggerOf(write: (level: LogLevel, message: string, fields?: LogFields) => void): Logger {
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

export const silentLogger: Logger = loggerOf(() => undefined);
