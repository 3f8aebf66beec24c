import { lstatSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChunkswarmError } from '../../src/core/index.js';
import { describeError, exitCodeOf } from '../../src/cli/exit-codes.js';

describe('the CLI\'s last word on an error', () => {
  it('a coded error keeps its code and exit status', () => {
    const e = new ChunkswarmError('E_NO_SPACE', 'no space left on device while staging');
    expect([exitCodeOf(e), describeError(e)]).toEqual([4, 'chunkswarm: E_NO_SPACE: no space left on device while staging']);
  });

  it('a system call\'s error that no layer wrapped is the system\'s, in words, not an internal error', () => {
    let sys: unknown;
    try {
      lstatSync('/proc/1/root/x');
    } catch (err) {
      sys = err;
    }
    // A real EACCES needs another user; the shape is the same for every system error.
    const eacces = Object.assign(new Error("EACCES: permission denied, lstat '/srv/data/releases/1/locked/f'"), { code: 'EACCES', syscall: 'lstat', path: '/srv/data/releases/1/locked/f', errno: -13 });
    expect(exitCodeOf(eacces)).toBe(1);
    expect(describeError(eacces)).toBe('chunkswarm: E_IO: lstat: /srv/data/releases/1/locked/f: permission denied: run chunkswarm as the user that owns it, or fix its permissions (EACCES)');
    expect(exitCodeOf(sys)).not.toBe(70);
    const full = Object.assign(new Error('ENOSPC'), { code: 'ENOSPC', syscall: 'write' });
    expect(exitCodeOf(full)).toBe(4);
  });

  it('a path too long is said once, with the limit: publishing a 4 KB path printed it twice', () => {
    const long = `${'x'.repeat(250)}/`.repeat(17) + 'y';
    let sys: unknown;
    try {
      lstatSync(`/tmp/${long}`);
    } catch (err) {
      sys = err;
    }
    const e = ChunkswarmError.fromSystem(sys, `copying ${long}`);
    expect(e.message).toBe(`copying ${long}: the path is longer than the system allows (4096 bytes in all, 255 for one name) (ENAMETOOLONG)`);
  });

  it('anything else is an internal error, with its stack', () => {
    const bug = new TypeError('x is undefined');
    expect(exitCodeOf(bug)).toBe(70);
    expect(describeError(bug)).toMatch(/^chunkswarm: internal error: TypeError: x is undefined\n\s+at /);
  });
});
