import { createRequire } from 'node:module';
import { loggerOf, type LogFields, type Logger, type LogLevel } from '../client.js';

export type LogFormat = 'human' | 'json';

/** pino is loaded by the one format that uses it: every command starts ~20 ms sooner without it. */
const require = createRequire(import.meta.url);

const HUMAN_PREFIX: Record<LogLevel, string> = { info: '', warn: 'WARNING: ', error: 'error: ' };

/**
 * How `serve` writes its log to stderr: timestamped lines for a terminal or journald (`human`),
 * or one JSON object per line with level, time, node name, message and fields (`json`, pino).
 * `quiet` keeps warnings and errors only; one-shot commands leave out the timestamps.
 */
export function createLogger(o: { format: LogFormat; quiet: boolean; node: string; timestamps?: boolean }): Logger {
  const minimum: LogLevel = o.quiet ? 'warn' : 'info';
  if (o.format === 'json') {
    const { pino } = require('pino') as typeof import('pino');
    const p = pino(
      { level: minimum, base: { node: o.node }, formatters: { level: (label) => ({ level: label }) }, timestamp: pino.stdTimeFunctions.isoTime },
      pino.destination({ fd: 2, sync: true }),
    );
    return loggerOf((level, message, fields) => p[level](fields ?? {}, message));
  }
  const shown = (level: LogLevel) => level !== 'info' || minimum === 'info';
  return loggerOf((level: LogLevel, message: string, fields?: LogFields) => {
    if (!shown(level)) return;
    const code = level === 'error' && fields?.code && !message.startsWith(fields.code) ? `${fields.code}: ` : '';
    const at = o.timestamps === false ? '' : `${new Date().toISOString()} `;
    process.stderr.write(`${at}${HUMAN_PREFIX[level]}${code}${message}\n`);
  });
}
