import { ChunkswarmError } from '../core/index.js';

/**
 * Command-line values checked as commander reads them, before a command does anything: `join`
 * spends its invitation before it writes the config, so a port mistyped there must fail first.
 */

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90", "90s", "15m", "1h", "7d" -> seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(s.trim());
  if (!m || Number(m[1]) < 1) throw ChunkswarmError.usage(`not a duration: ${JSON.stringify(s)} (e.g. 90s, 15m, 1h, 7d)`);
  return Number(m[1]) * UNITS[m[2] || 's']!;
}

export function positiveInt(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw ChunkswarmError.usage(`not a positive integer: ${JSON.stringify(s)}`);
  return Number(s);
}

/** A port to listen on, 1-65535; with `anyFree`, also 0 (the kernel picks a free one). */
export function parsePort(s: string, anyFree = false): number {
  const low = anyFree ? 0 : 1;
  if (!/^\d{1,5}$/.test(s.trim()) || Number(s) < low || Number(s) > 65535) {
    throw ChunkswarmError.usage(`not a port: ${JSON.stringify(s)} (a number from ${low} to 65535${anyFree ? '; 0: any free port' : ''})`);
  }
  return Number(s);
}
