import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_MAX, CHUNK_MIN, ChunkHasher, chunkBoundaries, chunkBytes, hashFile, isOneChunk, type ChunkRef } from '../../src/manifest/index.js';

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
function prng(size: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, size);
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const MB10 = prng(10 * 1024 * 1024, 42);
/** Recorded once from this implementation; a change means releases stop sharing chunks with older versions. */
const GOLDEN_CUTS_SHA = 'b07e48fb913bc7e40b86a14ff97e897e440f10360376fb916d5e2dc7d6782bd1';

describe('chunkBytes / chunkBoundaries', () => {
  it('is deterministic and agrees with chunkBoundaries and with SHA-256 of each slice', () => {
    const buf = MB10.subarray(0, 3 * 1024 * 1024);
    const a = chunkBytes(buf);
    expect(chunkBytes(new Uint8Array(buf))).toEqual(a);
    const cuts = chunkBoundaries(buf);
    expect(cuts.length).toBe(a.length);
    let from = 0;
    a.forEach((c, i) => {
      expect(c.size).toBe(cuts[i]! - from);
      expect(c.hash).toBe(sha(buf.subarray(from, cuts[i])));
      from = cuts[i]!;
    });
    expect(from).toBe(buf.length);
  });

  it('keeps the cut points of format v1 (changing them would change every chunk hash)', () => {
    const cuts = chunkBoundaries(prng(4 * 1024 * 1024, 7));
    expect(sha(Buffer.from(cuts.join(',')))).toBe(GOLDEN_CUTS_SHA);
  });

  it('keeps every chunk but the last between min and max, averaging near 64 KiB', () => {
    for (const buf of [MB10, new Uint8Array(3 * 1024 * 1024), new Uint8Array(3 * 1024 * 1024).fill(0xa5)]) {
      const chunks = chunkBytes(buf);
      chunks.slice(0, -1).forEach((c) => {
        expect(c.size).toBeGreaterThanOrEqual(CHUNK_MIN);
        expect(c.size).toBeLessThanOrEqual(CHUNK_MAX);
      });
      expect(chunks.at(-1)!.size).toBeLessThanOrEqual(CHUNK_MAX);
      expect(chunks.reduce((s, c) => s + c.size, 0)).toBe(buf.length);
    }
    const avg = MB10.length / chunkBytes(MB10).length;
    expect(avg).toBeGreaterThan(48 * 1024);
    expect(avg).toBeLessThan(96 * 1024);
  });

  it('makes one chunk of a file of at most CHUNK_MIN bytes, none of an empty one', () => {
    expect(chunkBytes(new Uint8Array(0))).toEqual([]);
    expect(chunkBoundaries(new Uint8Array(0))).toEqual([]);
    for (const size of [1, 100, 4096, CHUNK_MIN - 1, CHUNK_MIN]) {
      const buf = MB10.subarray(size, size * 2);
      expect(chunkBytes(buf)).toEqual([{ hash: sha(buf), size }]);
      // What staging counts on (isOneChunk): such a file is made by its one write.
      expect(isOneChunk(size)).toBe(true);
    }
    expect(isOneChunk(CHUNK_MIN + 1)).toBe(false);
  });

  it('gives the same chunks when fed in random pieces of 1 byte .. 1 MiB', () => {
    const buf = MB10.subarray(0, 4 * 1024 * 1024);
    const whole = chunkBytes(buf);
    for (let seed = 1; seed <= 4; seed++) {
      const rnd = prng(4096, seed * 7919);
      const hasher = new ChunkHasher();
      const got: ChunkRef[] = [];
      let off = 0;
      for (let k = 0; off < buf.length; k++) {
        // Log-uniform sizes, so both tiny and huge writes occur.
        const size = Math.max(1, Math.floor(2 ** ((rnd[k % rnd.length]! / 255) * 20)));
        got.push(...hasher.write(buf.subarray(off, off + size)));
        off += size;
      }
      got.push(...hasher.end());
      expect(got).toEqual(whole);
    }
  });

  it('carries the rolling hash across many tiny writes', () => {
    const buf = MB10.subarray(0, 2 * 1024 * 1024);
    const rnd = prng(1 << 16, 99);
    const hasher = new ChunkHasher();
    const got: ChunkRef[] = [];
    for (let off = 0, k = 0; off < buf.length; k++) {
      const size = 1 + (rnd[k % rnd.length]! % 64);
      got.push(...hasher.write(buf.subarray(off, off + size)));
      off += size;
    }
    got.push(...hasher.end());
    expect(got).toEqual(chunkBytes(buf));
  });

  it('is reusable after end()', () => {
    const hasher = new ChunkHasher();
    const buf = MB10.subarray(0, 500_000);
    const first = [...hasher.write(buf), ...hasher.end()];
    const second = [...hasher.write(buf), ...hasher.end()];
    expect(second).toEqual(first);
    expect(hasher.end()).toEqual([]);
  });

  it('changes at most 3 chunks when a few bytes are inserted or removed', () => {
    const before = new Set(chunkBytes(MB10).map((c) => c.hash));
    const edits = [
      Buffer.concat([MB10.subarray(0, 1000), Buffer.from('hello'), MB10.subarray(1000)]),
      Buffer.concat([MB10.subarray(0, 5_000_000), Buffer.from([1, 2, 3]), MB10.subarray(5_000_000)]),
      Buffer.concat([MB10.subarray(0, 300_000), MB10.subarray(300_007)]),
    ];
    for (const edited of edits) {
      const fresh = chunkBytes(edited).filter((c) => !before.has(c.hash));
      expect(fresh.length).toBeGreaterThanOrEqual(1);
      expect(fresh.length).toBeLessThanOrEqual(3);
    }
  });
});

describe('hashFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chunkswarm-chunker-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('equals chunkBytes of the file content', async () => {
    for (const [name, content] of [
      ['big', MB10.subarray(0, 3 * 1024 * 1024 + 12345)],
      // Read whole with synchronous calls up to 1 MiB, streamed above it.
      ['one-mib', MB10.subarray(0, 1024 * 1024)],
      ['one-mib-and-a-byte', MB10.subarray(0, 1024 * 1024 + 1)],
      ['small', MB10.subarray(0, 10)],
      ['empty', new Uint8Array(0)],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, content);
      const file = await hashFile(path);
      expect(file).toEqual({ kind: 'file', size: content.length, chunks: chunkBytes(content) });
    }
  });

  it('refuses a fifo or a symlink put where a file was, at once, instead of blocking on it or following it', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(hashFile(fifo)).rejects.toMatchObject({ code: 'E_IO', message: `${fifo} is not a regular file any more: something replaced it while it was being checked` });
    const link = join(dir, 'link');
    await symlink('/etc/hostname', link);
    await expect(hashFile(link)).rejects.toThrow(/ELOOP|symbolic link/);
  });

  it('reports a missing file as E_NOT_FOUND', async () => {
    await expect(hashFile(join(dir, 'nope'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
