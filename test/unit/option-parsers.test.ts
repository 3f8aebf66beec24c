import { describe, expect, it } from 'vitest';
import { isChunkswarmError } from '../../src/core/index.js';
import { parseDuration, parsePort, positiveInt } from '../../src/cli/option-parsers.js';

const usageError = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return isChunkswarmError(err, 'E_USAGE') ? err.message : `not E_USAGE: ${String(err)}`;
  }
  return 'no error';
};

describe('command-line values', () => {
  it('a port is a whole number from 1 to 65535; 0 (any free port) only where the option allows it', () => {
    expect(parsePort('49738')).toBe(49738);
    expect(parsePort('1')).toBe(1);
    expect(parsePort('65535')).toBe(65535);
    expect(parsePort('0', true)).toBe(0);
    expect(usageError(() => parsePort('0'))).toMatch(/not a port: "0" \(a number from 1 to 65535\)/);
    for (const bad of ['', 'abc', '65536', '-1', '1.5', '4e4', '49738x', '123456']) {
      expect(usageError(() => parsePort(bad, true)), bad).toMatch(/^not a port: .*0: any free port\)$/);
    }
  });

  it('durations and counts', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('7d')).toBe(604_800);
    expect(usageError(() => parseDuration('0s'))).toMatch(/not a duration/);
    expect(usageError(() => parseDuration('1w'))).toMatch(/not a duration/);
    expect(positiveInt('3')).toBe(3);
    expect(usageError(() => positiveInt('0'))).toMatch(/not a positive integer/);
  });
});
