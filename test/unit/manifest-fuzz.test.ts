import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeObject,
  decodeReleaseBody,
  decodeSignedRelease,
  encodeObject,
  encodeReleaseBody,
  encodeSignedRelease,
  type DecodeLimits,
  DEFAULT_LIMITS,
} from '../../src/manifest/index.js';
import { ChunkswarmError, asChunkHash, asObjectHash, asReleaseId } from '../../src/core/index.js';

const h = (c: string) => c.repeat(64);

const body = {
  kind: 'release' as const,
  cluster: h('c'),
  version: 300,
  root: asObjectHash(h('a')),
  parent: asReleaseId(h('b')),
  created: 1_700_000_000_000,
  note: 'note ü',
};
const samples = [
  encodeObject({
    kind: 'file',
    size: 70_000,
    chunks: [
      { hash: asChunkHash(h('1')), size: 200 },
      { hash: asChunkHash(h('2')), size: 69_800 },
    ],
  }),
  encodeObject({
    kind: 'tree',
    entries: [
      { name: 'a', type: 'file', mode: 0o644, mtime: 1_700_000_000_000, uid: 1000, gid: 1000, link: 1, hash: asObjectHash(h('3')) },
      { name: 'bé', type: 'dir', mode: 0o755, mtime: 200, hash: asObjectHash(h('4')) },
      { name: 'c', type: 'symlink', mode: 0o777, mtime: 0, target: 'a' },
    ],
  }),
  encodeReleaseBody(body),
  encodeSignedRelease({ body, publicKey: new Uint8Array(32).fill(1), signature: new Uint8Array(64).fill(2) }),
];

// Small limits too, so the limit checks are reached from random input.
const limits: DecodeLimits[] = [DEFAULT_LIMITS, { ...DEFAULT_LIMITS, maxEntries: 2, maxChunks: 1, maxNameBytes: 1, maxNoteBytes: 2, maxFileSize: 1000 }];

const decoders: Array<[(b: Uint8Array, l: DecodeLimits) => unknown, (o: never) => Uint8Array]> = [
  [decodeObject, encodeObject],
  [decodeReleaseBody, encodeReleaseBody],
  [decodeSignedRelease, encodeSignedRelease],
];

/** Decoding either fails with a ChunkswarmError or yields an object whose encoding is exactly the input. */
function check(bytes: Uint8Array): void {
  for (const l of limits) {
    for (const [decode, encode] of decoders) {
      let decoded: unknown;
      try {
        decoded = decode(bytes, l);
      } catch (err) {
        if (!(err instanceof ChunkswarmError)) throw err;
        expect(['E_BAD_OBJECT', 'E_TOO_LARGE', 'E_UNSAFE_PATH']).toContain(err.code);
        continue;
      }
      expect(encode(decoded as never)).toEqual(bytes);
    }
  }
}

type Mutation = { op: 'set' | 'insert' | 'delete'; pos: number; byte: number };
const mutation = fc.record({ op: fc.constantFrom<Mutation['op']>('set', 'insert', 'delete'), pos: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) });

function mutate(src: Uint8Array, muts: Mutation[]): Uint8Array {
  const b = [...src];
  for (const m of muts) {
    const pos = m.pos % (b.length + 1);
    if (m.op === 'insert') b.splice(pos, 0, m.byte);
    else if (pos < b.length) {
      if (m.op === 'set') b[pos] = m.byte;
      else b.splice(pos, 1);
    }
  }
  return new Uint8Array(b);
}

describe('decoders on hostile input', () => {
  it('accept the samples', () => {
    for (const s of samples) expect(() => check(s)).not.toThrow();
  });

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(b)), { numRuns: 1000 });
  });

  it('random bytes after a valid header', () => {
    const headed = fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 200 }))
      .map(([kind, tail]) => new Uint8Array([0x43, 0x53, 0x57, 0x01, kind, ...tail]));
    fc.assert(fc.property(headed, (b) => check(b)), { numRuns: 1500 });
  });

  it('randomly mutated valid encodings', () => {
    fc.assert(
      fc.property(fc.constantFrom(...samples), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat(), (s, muts, cut) => {
        const m = mutate(s, muts);
        check(m);
        check(m.subarray(0, cut % (m.length + 1)));
      }),
      { numRuns: 2500 },
    );
  });
});
