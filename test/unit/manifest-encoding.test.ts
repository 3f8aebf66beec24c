import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHUNK_MAX,
  DEFAULT_LIMITS,
  compareNames,
  comparePaths,
  decodeObject,
  decodeReleaseBody,
  decodeSignedRelease,
  encodeObject,
  encodeReleaseBody,
  encodeSignedRelease,
  objectHash,
  releaseId,
  sameEncoding,
  validateName,
  type DecodeLimits,
  type FileObject,
  type ManifestObject,
  type ReleaseBody,
  type TreeEntry,
  type TreeObject,
} from '../../src/manifest/index.js';
import { asChunkHash, asObjectHash, asReleaseId, type ErrorCode } from '../../src/core/index.js';
import { codeOf } from '../support/error-code.js';

// An independent writer of the format as specified, to check the codec against the spec, not against itself.
const leb = (n: number | bigint): number[] => {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return out;
};
const rawStr = (b: number[]) => [...leb(b.length), ...b];
const str = (s: string) => rawStr([...Buffer.from(s, 'utf8')]);
const hashOf = (s: string) => createHash('sha256').update(s).digest('hex');
const hex = (h: string) => [...Buffer.from(h, 'hex')];
const header = (kind: number) => [0x43, 0x53, 0x57, 0x01, kind];
const bytes = (a: number[]) => new Uint8Array(a);

const H1 = hashOf('one');
const H2 = hashOf('two');

type RawEntry = { name: number[]; type?: number; mode?: number; mtime?: number; flags?: number; owner?: [number, number]; link?: number; tail?: number[] };
function rawEntry(e: RawEntry): number[] {
  const flags = e.flags ?? (e.owner ? 1 : 0) | (e.link !== undefined ? 2 : 0);
  return [
    ...rawStr(e.name),
    e.type ?? 1,
    ...leb(e.mode ?? 0o644),
    ...leb(e.mtime ?? 1_700_000_000_000),
    flags,
    ...(e.owner ? [...leb(e.owner[0]), ...leb(e.owner[1])] : []),
    ...(e.link !== undefined ? leb(e.link) : []),
    ...(e.tail ?? hex(H1)),
  ];
}
const rawTree = (entries: RawEntry[]) => bytes([...header(2), ...leb(entries.length), ...entries.flatMap(rawEntry)]);
const rawFile = (size: number, chunks: Array<[string, number]>) =>
  bytes([...header(1), ...leb(size), ...leb(chunks.length), ...chunks.flatMap(([h, n]) => [...hex(h), ...leb(n)])]);
const nameOf = (s: string) => [...Buffer.from(s, 'utf8')];

const sampleFile: FileObject = {
  kind: 'file',
  size: CHUNK_MAX + 5,
  chunks: [
    { hash: asChunkHash(H1), size: CHUNK_MAX },
    { hash: asChunkHash(H2), size: 5 },
  ],
};
const sampleTree: TreeObject = {
  kind: 'tree',
  entries: [
    { name: 'a.txt', type: 'file', mode: 0o644, mtime: 1_700_000_000_123, hash: asObjectHash(H1) },
    { name: 'bin', type: 'dir', mode: 0o755, mtime: 0, uid: 0, gid: 0, hash: asObjectHash(H2) },
    { name: 'hard', type: 'file', mode: 0o4755, mtime: 5, uid: 1000, gid: 2 ** 40, link: 1, hash: asObjectHash(H1) },
    { name: 'ln', type: 'symlink', mode: 0o777, mtime: 9, target: '../a.txt' },
    { name: '\uFFFD', type: 'file', mode: 0, mtime: 1, hash: asObjectHash(H1) },
    { name: '😀 ünïcode', type: 'symlink', mode: 0o777, mtime: 9, target: '/abs/ü' },
  ],
};
const sampleBody: ReleaseBody = {
  kind: 'release',
  cluster: hashOf('key'),
  version: 7,
  root: asObjectHash(H1),
  parent: asReleaseId(H2),
  created: 1_700_000_000_000,
  note: 'fix typo — ü',
};


describe('canonical encoding', () => {
  it('matches the specified byte layout', () => {
    expect(encodeObject(sampleFile)).toEqual(rawFile(CHUNK_MAX + 5, [[H1, CHUNK_MAX], [H2, 5]]));
    const tree: TreeObject = { kind: 'tree', entries: [sampleTree.entries[2]!, sampleTree.entries[3]!] };
    expect(encodeObject(tree)).toEqual(
      rawTree([
        { name: nameOf('hard'), mode: 0o4755, mtime: 5, owner: [1000, 2 ** 40], link: 1 },
        { name: nameOf('ln'), type: 3, mode: 0o777, mtime: 9, tail: str('../a.txt') },
      ]),
    );
    const body = { ...sampleBody, parent: null };
    expect(encodeReleaseBody(body)).toEqual(
      bytes([...header(3), ...str(body.cluster), 7, ...hex(H1), 0, ...leb(body.created), ...str(body.note)]),
    );
  });

  it('round-trips files, trees, release bodies and signed releases both ways', () => {
    const objects: ManifestObject[] = [sampleFile, { kind: 'file', size: 0, chunks: [] }, sampleTree, { kind: 'tree', entries: [] }];
    for (const o of objects) {
      const enc = encodeObject(o);
      expect(decodeObject(enc)).toEqual(o);
      expect(encodeObject(decodeObject(enc))).toEqual(enc);
      expect(objectHash(enc)).toBe(createHash('sha256').update(enc).digest('hex'));
    }
    for (const body of [sampleBody, { ...sampleBody, parent: null, note: '' }]) {
      expect(decodeReleaseBody(encodeReleaseBody(body))).toEqual(body);
    }
    const signed = { body: sampleBody, publicKey: new Uint8Array(32).fill(3), signature: new Uint8Array(64).fill(4) };
    const enc = encodeSignedRelease(signed);
    expect(decodeSignedRelease(enc)).toEqual(signed);
    expect(encodeSignedRelease(decodeSignedRelease(enc))).toEqual(enc);
  });

  it('names a release by the hash of its body', () => {
    expect(releaseId(sampleBody)).toBe(createHash('sha256').update(encodeReleaseBody(sampleBody)).digest('hex'));
    expect(releaseId({ ...sampleBody, version: 8 })).not.toBe(releaseId(sampleBody));
  });

  it('round-trips arbitrary valid trees', () => {
    const name = fc
      .string({ unit: fc.constantFrom('a', 'b', '.', 'é', '日', '😀', '\uFFFD', '\uE000', '-', ' '), minLength: 1, maxLength: 6 })
      .filter((s) => s !== '.' && s !== '..');
    const entry = fc.record({
      name,
      type: fc.constantFrom<'file' | 'dir'>('file', 'dir'),
      mode: fc.integer({ min: 0, max: 0o7777 }),
      mtime: fc.maxSafeNat(),
      hash: fc.constantFrom(asObjectHash(H1), asObjectHash(H2)),
    });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => e.name, maxLength: 12 }), (entries) => {
        const tree: TreeObject = { kind: 'tree', entries: [...entries].sort((x, y) => compareNames(x.name, y.name)) };
        expect(decodeObject(encodeObject(tree))).toEqual(tree);
      }),
      { numRuns: 300 },
    );
  });
});

describe('sameEncoding', () => {
  it('is true exactly when the two entries encode to the same bytes', () => {
    // Few values per field, so that pairs often agree on all of them but one.
    const entry = fc.oneof(
      fc.record(
        {
          name: fc.constantFrom('a', 'b'),
          type: fc.constantFrom<'file' | 'dir'>('file', 'dir'),
          mode: fc.constantFrom(0o644, 0o755),
          mtime: fc.constantFrom(1, 2),
          uid: fc.constantFrom(0, 1000),
          gid: fc.constantFrom(0, 1000),
          hash: fc.constantFrom(asObjectHash(H1), asObjectHash(H2)),
          link: fc.constantFrom(1, 2),
        },
        { requiredKeys: ['name', 'type', 'mode', 'mtime', 'hash'] },
      ),
      fc.record({
        name: fc.constantFrom('a', 'b'),
        type: fc.constant<'symlink'>('symlink'),
        mode: fc.constantFrom(0o777),
        mtime: fc.constantFrom(1, 2),
        target: fc.constantFrom('x', 'y'),
      }),
    ).filter((e) => ('uid' in e) === ('gid' in e) && !(e.type === 'dir' && 'link' in e));
    const bytes = (e: TreeEntry) => Buffer.from(encodeObject({ kind: 'tree', entries: [e] }));
    fc.assert(
      fc.property(entry, entry, (a, b) => {
        expect(sameEncoding(a as TreeEntry, b as TreeEntry)).toBe(bytes(a as TreeEntry).equals(bytes(b as TreeEntry)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('name order and validation', () => {
  it('orders names by their UTF-8 bytes', () => {
    const names = ['b', 'a', 'é', '\uFFFD', '😀', '\uE000', 'ab', 'A', 'a.b'];
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...names].sort(compareNames)).toEqual(byBytes);
    expect(compareNames('😀', '\uFFFD')).toBeGreaterThan(0);
    expect(compareNames('a', 'a')).toBe(0);
  });

  it('orders paths component by component', () => {
    expect(['a.txt', 'a/b', 'a', 'a-b/c'].sort(comparePaths)).toEqual(['a', 'a/b', 'a-b/c', 'a.txt']);
  });

  it('rejects unsafe names with E_UNSAFE_PATH', () => {
    for (const bad of ['', '.', '..', 'a/b', '/', 'a\0b', 'x'.repeat(256), 'é'.repeat(128)]) {
      expect(codeOf(() => validateName(bad)), JSON.stringify(bad)).toBe('E_UNSAFE_PATH');
    }
    for (const ok of ['...', '.hidden', 'x'.repeat(255), 'a b', 'é'.repeat(127)]) expect(codeOf(() => validateName(ok))).toBe('none');
  });
});

describe('decoding rejects', () => {
  const small = (over: Partial<DecodeLimits>): DecodeLimits => ({ ...DEFAULT_LIMITS, ...over });
  const validTree = encodeObject(sampleTree);
  const cases: Array<[string, () => unknown, ErrorCode]> = [
    ['name ..', () => decodeObject(rawTree([{ name: nameOf('..') }])), 'E_UNSAFE_PATH'],
    ['name .', () => decodeObject(rawTree([{ name: nameOf('.') }])), 'E_UNSAFE_PATH'],
    ['empty name', () => decodeObject(rawTree([{ name: [] }])), 'E_UNSAFE_PATH'],
    ['name with /', () => decodeObject(rawTree([{ name: nameOf('a/b') }])), 'E_UNSAFE_PATH'],
    ['name with NUL', () => decodeObject(rawTree([{ name: [0x61, 0, 0x62] }])), 'E_UNSAFE_PATH'],
    ['name too long', () => decodeObject(rawTree([{ name: nameOf('x'.repeat(256)) }])), 'E_UNSAFE_PATH'],
    ['name over a small limit', () => decodeObject(rawTree([{ name: nameOf('abc') }]), small({ maxNameBytes: 2 })), 'E_UNSAFE_PATH'],
    ['overlong UTF-8 slash', () => decodeObject(rawTree([{ name: [0x61, 0xc0, 0xaf] }])), 'E_BAD_OBJECT'],
    ['invalid UTF-8', () => decodeObject(rawTree([{ name: [0xff] }])), 'E_BAD_OBJECT'],
    ['encoded surrogate', () => decodeObject(rawTree([{ name: [0xed, 0xa0, 0x80] }])), 'E_BAD_OBJECT'],
    ['duplicate names', () => decodeObject(rawTree([{ name: nameOf('a') }, { name: nameOf('a') }])), 'E_BAD_OBJECT'],
    ['unsorted names', () => decodeObject(rawTree([{ name: nameOf('b') }, { name: nameOf('a') }])), 'E_BAD_OBJECT'],
    ['UTF-16 order instead of bytes', () => decodeObject(rawTree([{ name: nameOf('😀') }, { name: nameOf('\uFFFD') }])), 'E_BAD_OBJECT'],
    ['unknown entry type', () => decodeObject(rawTree([{ name: nameOf('a'), type: 4 }])), 'E_BAD_OBJECT'],
    ['mode above 0o7777', () => decodeObject(rawTree([{ name: nameOf('a'), mode: 0o10000 }])), 'E_BAD_OBJECT'],
    ['unknown flag bits', () => decodeObject(rawTree([{ name: nameOf('a'), flags: 4 }])), 'E_BAD_OBJECT'],
    ['link on a dir', () => decodeObject(rawTree([{ name: nameOf('a'), type: 2, link: 1 }])), 'E_BAD_OBJECT'],
    ['link on a symlink', () => decodeObject(rawTree([{ name: nameOf('a'), type: 3, link: 1, tail: str('t') }])), 'E_BAD_OBJECT'],
    ['link group 0', () => decodeObject(rawTree([{ name: nameOf('a'), link: 0 }])), 'E_BAD_OBJECT'],
    ['empty symlink target', () => decodeObject(rawTree([{ name: nameOf('a'), type: 3, tail: str('') }])), 'E_BAD_OBJECT'],
    ['NUL in symlink target', () => decodeObject(rawTree([{ name: nameOf('a'), type: 3, tail: str('a\0') }])), 'E_BAD_OBJECT'],
    ['symlink target too long', () => decodeObject(rawTree([{ name: nameOf('a'), type: 3, tail: str('t'.repeat(4096)) }])), 'E_TOO_LARGE'],
    ['too many entries', () => decodeObject(validTree, small({ maxEntries: 5 })), 'E_TOO_LARGE'],
    ['size differs from chunks', () => decodeObject(rawFile(10, [[H1, 9]])), 'E_BAD_OBJECT'],
    ['size 0 with a chunk', () => decodeObject(rawFile(0, [[H1, 1]])), 'E_BAD_OBJECT'],
    ['size without chunks', () => decodeObject(rawFile(3, [])), 'E_BAD_OBJECT'],
    ['chunk size 0', () => decodeObject(rawFile(5, [[H1, 5], [H2, 0]])), 'E_BAD_OBJECT'],
    ['chunk above max', () => decodeObject(rawFile(CHUNK_MAX + 1, [[H1, CHUNK_MAX + 1]])), 'E_BAD_OBJECT'],
    ['too many chunks', () => decodeObject(encodeObject(sampleFile), small({ maxChunks: 1 })), 'E_TOO_LARGE'],
    ['file too large', () => decodeObject(encodeObject(sampleFile), small({ maxFileSize: CHUNK_MAX })), 'E_TOO_LARGE'],
    ['oversize input', () => decodeObject(validTree, small({ maxEncodedBytes: validTree.length - 1 })), 'E_TOO_LARGE'],
    ['trailing bytes', () => decodeObject(bytes([...validTree, 0])), 'E_BAD_OBJECT'],
    ['bad magic', () => decodeObject(bytes([0x43, 0x53, 0x58, ...validTree.subarray(3)])), 'E_BAD_OBJECT'],
    ['bad version', () => decodeObject(bytes([0x43, 0x53, 0x57, 2, ...validTree.subarray(4)])), 'E_BAD_OBJECT'],
    ['unknown kind', () => decodeObject(bytes([...header(9), 0])), 'E_BAD_OBJECT'],
    ['release where an object is expected', () => decodeObject(encodeReleaseBody(sampleBody)), 'E_BAD_OBJECT'],
    ['tree where a release is expected', () => decodeReleaseBody(validTree), 'E_BAD_OBJECT'],
    ['non-minimal LEB128', () => decodeObject(bytes([...header(1), 0x80, 0x00, 0])), 'E_BAD_OBJECT'],
    ['non-minimal LEB128 zero', () => decodeObject(bytes([...header(2), 0x80, 0x80, 0x00])), 'E_BAD_OBJECT'],
    ['integer above 2^53', () => decodeObject(bytes([...header(1), ...leb(2n ** 53n), 0])), 'E_BAD_OBJECT'],
    ['integer of 10 bytes', () => decodeObject(bytes([...header(1), ...Array(9).fill(0xff), 0x01, 0])), 'E_BAD_OBJECT'],
    ['release version 0', () => decodeReleaseBody(encodeReleaseBody(sampleBody).map((b, i) => (i === 5 + 65 ? 0 : b))), 'E_BAD_OBJECT'],
    ['release cluster not hex', () => decodeReleaseBody(bytes([...header(3), ...str('X'.repeat(64)), 1, ...hex(H1), 0, 0, 0])), 'E_BAD_OBJECT'],
    ['release parent flag 2', () => decodeReleaseBody(bytes([...header(3), ...str(H2), 1, ...hex(H1), 2, 0, 0])), 'E_BAD_OBJECT'],
    ['release note too long', () => decodeReleaseBody(encodeReleaseBody(sampleBody), small({ maxNoteBytes: 3 })), 'E_TOO_LARGE'],
    ['signed release holding a tree', () => decodeSignedRelease(bytes([...header(4), ...rawStr([...validTree]), ...Array(96).fill(0)])), 'E_BAD_OBJECT'],
  ];
  it.each(cases)('%s', (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });

  it('every truncation of a valid encoding', () => {
    const signed = encodeSignedRelease({ body: sampleBody, publicKey: new Uint8Array(32), signature: new Uint8Array(64) });
    for (const [enc, decode] of [
      [validTree, decodeObject],
      [encodeObject(sampleFile), decodeObject],
      [encodeReleaseBody(sampleBody), decodeReleaseBody],
      [signed, decodeSignedRelease],
    ] as const) {
      for (let n = 0; n < enc.length; n++) expect(codeOf(() => decode(enc.subarray(0, n)))).toBe('E_BAD_OBJECT');
    }
  });
});

describe('encoding refuses invalid objects', () => {
  const tree = (e: Partial<TreeEntry>): TreeObject => ({
    kind: 'tree',
    entries: [{ name: 'a', type: 'file', mode: 0o644, mtime: 1, hash: asObjectHash(H1), ...e } as TreeEntry],
  });
  const cases: Array<[string, () => unknown, ErrorCode]> = [
    ['unsafe name', () => encodeObject(tree({ name: '..' })), 'E_UNSAFE_PATH'],
    ['lone surrogate name', () => encodeObject(tree({ name: 'a\uD800' })), 'E_BAD_OBJECT'],
    ['uid without gid', () => encodeObject(tree({ uid: 1 })), 'E_BAD_OBJECT'],
    ['link on a dir', () => encodeObject(tree({ type: 'dir', link: 1 })), 'E_BAD_OBJECT'],
    ['hash on a symlink', () => encodeObject(tree({ type: 'symlink', target: 'x' })), 'E_BAD_OBJECT'],
    ['target on a file', () => encodeObject(tree({ target: 'x' })), 'E_BAD_OBJECT'],
    ['fractional mtime', () => encodeObject(tree({ mtime: 1.5 })), 'E_BAD_OBJECT'],
    ['negative mtime', () => encodeObject(tree({ mtime: -1 })), 'E_BAD_OBJECT'],
    ['uppercase hash', () => encodeObject(tree({ hash: asObjectHash(H1.toUpperCase()) })), 'E_BAD_OBJECT'],
    ['unsorted', () => encodeObject({ kind: 'tree', entries: [...sampleTree.entries].reverse() }), 'E_BAD_OBJECT'],
    ['bad file', () => encodeObject({ ...sampleFile, size: 1 }), 'E_BAD_OBJECT'],
    ['unknown kind', () => encodeObject({ kind: 'blob' } as unknown as ManifestObject), 'E_BAD_OBJECT'],
    ['version 0', () => encodeReleaseBody({ ...sampleBody, version: 0 }), 'E_BAD_OBJECT'],
    ['short key', () => encodeSignedRelease({ body: sampleBody, publicKey: new Uint8Array(31), signature: new Uint8Array(64) }), 'E_BAD_OBJECT'],
  ];
  it.each(cases)('%s', (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });
});
