import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyToSource, compareWithSource, packDriftRecord, unpackDriftRecord, driftRecordIds, markPulled, type DriftBundle } from '../../src/fleet/index.js';
import type { DriftReport } from '../../src/deploy/index.js';
import { encodeObject, fileObjectOf, objectHash } from '../../src/manifest/index.js';

let dir: string;
let driftDir: string;
let source: string;
const ID = '20261202T010000Z-3';

/** What the release the drift was found in held (the source's content in beforeEach). */
const RELEASE: Record<string, string> = { 'etc/app.conf': 'a\nb\nc\n', 'old.txt': 'bye\n' };

function hashOf(data: string | Buffer): string {
  return objectHash(encodeObject(fileObjectOf(Buffer.from(data))));
}

function entry(path: string, kind: DriftReport['entries'][number]['kind'], mode = 0o640): DriftReport['entries'][number] {
  const was = RELEASE[path];
  return {
    path, kind,
    ...(was !== undefined && { old: { type: 'file', size: Buffer.byteLength(was), mtime: 0, mode: 0o444, hash: hashOf(was) } }),
    ...(kind !== 'removed' && { new: { type: 'file', size: 1, mtime: 0, mode } }),
  };
}

/** A drift record of release 3: `files` edited (or added, where the release had none) and `removed` by hand, seen with `mode`. */
async function record(files: Record<string, string | Buffer>, removed: string[] = [], mode = 0o640): Promise<void> {
  const d = join(driftDir, ID);
  for (const [p, data] of Object.entries(files)) {
    await mkdir(join(d, p, '..'), { recursive: true });
    await writeFile(join(d, p), data);
  }
  const entries = [...Object.keys(files).map((p) => entry(p, p in RELEASE ? 'modified' : 'added', mode)), ...removed.map((p) => entry(p, 'removed'))];
  const report = { id: ID, version: 3, replacedBy: 4, created: '', policy: 'preserve', livePath: '/live', counts: {}, signature: '', preserved: Object.keys(files), entries };
  await writeFile(join(d, 'report.json'), JSON.stringify(report));
}

async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else out[p] = e.isSymbolicLink() ? 'symlink' : await readFile(join(root, p), 'utf8');
    }
  };
  await walk('');
  return out;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-fleet-drift-'));
  driftDir = join(dir, 'drift');
  source = join(dir, 'source');
  await mkdir(join(source, 'etc'), { recursive: true });
  await writeFile(join(source, 'etc/app.conf'), 'a\nb\nc\n');
  await writeFile(join(source, 'old.txt'), 'bye\n');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bundle = async (limit = 1 << 20): Promise<DriftBundle> => unpackDriftRecord((await packDriftRecord(driftDir, '', limit)).bytes, limit, 'web-2');

describe('drift records over the wire', () => {
  it('packs the newest record with its files and reads them back', async () => {
    await record({ 'etc/app.conf': 'a\nB\nc\n', 'bin/tool': Buffer.from([0, 1, 2, 255]) });
    const packed = await packDriftRecord(driftDir, '', 1 << 20);
    expect(packed.served).toBe(ID);
    const b = unpackDriftRecord(packed.bytes, 1 << 20, 'web-2');
    expect(b.record.id).toBe(ID);
    expect(b.files.map((f) => [f.path, f.kind, f.data.length])).toEqual([['etc/app.conf', 'file', 6], ['bin/tool', 'file', 4]]);
    expect((await driftRecordIds(driftDir)).unpulled).toEqual([ID]);
    await markPulled(driftDir, ID, 'ab'.repeat(32));
    expect(await driftRecordIds(driftDir)).toEqual({ all: [ID], unpulled: [] });
  });

  it('refuses a missing record, an id that is not one, and a record above the limit, as coded answers', async () => {
    await record({ 'etc/app.conf': 'x'.repeat(2000) });
    for (const [id, limit, code] of [['20200101T000000Z-1', 1 << 20, 'E_NOT_FOUND'], ['../../etc', 1 << 20, 'E_NOT_FOUND'], [ID, 1000, 'E_TOO_LARGE']] as const) {
      const packed = await packDriftRecord(driftDir, id, limit);
      expect(packed.served, id).toBeNull();
      expect(() => unpackDriftRecord(packed.bytes, 1 << 20, 'web-2'), id).toThrowError(expect.objectContaining({ code }));
    }
    // The puller's own limit holds whatever the holder allows.
    const big = await packDriftRecord(driftDir, ID, 1 << 20);
    expect(() => unpackDriftRecord(big.bytes, 1000, 'web-2')).toThrowError(expect.objectContaining({ code: 'E_TOO_LARGE' }));
  });

  it('refuses a record whose paths would escape, from a lying peer', async () => {
    await record({ 'etc/app.conf': 'a\n' });
    const { bytes } = await packDriftRecord(driftDir, ID, 1 << 20);
    const buf = Buffer.from(bytes);
    const hlen = buf.readUInt32BE(0);
    const header = buf.subarray(4, 4 + hlen).toString().replace('"path":"etc/app.conf","kind"', '"path":"../../x.conf","kind"');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(Buffer.byteLength(header));
    const lying = Buffer.concat([len, Buffer.from(header), buf.subarray(4 + hlen)]);
    expect(() => unpackDriftRecord(lying, 1 << 20, 'web-2')).toThrowError(expect.objectContaining({ code: 'E_UNSAFE_PATH' }));
  });
});

describe('a pulled record against the source tree', () => {
  it('shows M/A/D lines with a unified diff for text and none for binary files', async () => {
    await record({ 'etc/app.conf': 'a\nB\nc\n', 'new.txt': 'hello\n', 'bin/tool': Buffer.from([0, 1, 2]) }, ['old.txt']);
    const changes = await compareWithSource(await bundle(), source);
    expect(changes.map((c) => `${c.letter} ${c.path} ${c.binary}`)).toEqual(['M etc/app.conf false', 'A new.txt false', 'A bin/tool true', 'D old.txt false']);
    expect(changes[0]!.diff).toContain('--- a/etc/app.conf\n+++ b/etc/app.conf\n');
    expect(changes[0]!.diff).toContain(' a\n-b\n+B\n c\n');
    expect(changes[2]!.diff).toBeNull();
  });

  it('--apply copies the chosen files (binary too), removes D paths only when asked, with the mode seen on the node', async () => {
    await record({ 'etc/app.conf': 'a\nB\nc\n', 'bin/tool': Buffer.from([0, 1, 2]) }, ['old.txt']);
    const b = await bundle();
    expect(await applyToSource(b, source, { paths: ['etc/app.conf'] })).toEqual({ written: ['etc/app.conf'], removed: [] });
    expect(await tree(source)).toEqual({ 'etc/app.conf': 'a\nB\nc\n', 'old.txt': 'bye\n' });
    expect((await lstat(join(source, 'etc/app.conf'))).mode & 0o777).toBe(0o640);
    expect(await applyToSource(b, source, { delete: true })).toEqual({ written: ['etc/app.conf', 'bin/tool'], removed: ['old.txt'] });
    expect(Object.keys(await tree(source)).sort()).toEqual(['bin/tool', 'etc/app.conf']);
  });

  it('never writes outside the source tree: escaping paths and symlinked directories are refused before any write', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await record({ 'etc/app.conf': 'a\nB\nc\n', 'link/evil.txt': 'pwned\n' });
    await symlink(outside, join(source, 'link'));
    const b = await bundle();
    const before = await tree(source);
    await expect(applyToSource(b, source)).rejects.toMatchObject({ code: 'E_UNSAFE_PATH' });
    await expect(applyToSource(b, source, { paths: ['../outside/x'] })).rejects.toMatchObject({ code: 'E_UNSAFE_PATH' });
    await expect(applyToSource(b, source, { paths: ['nowhere.txt'] })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(applyToSource(b, join(dir, 'no-such-source'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(await tree(source)).toEqual(before);
    expect(await readdir(outside)).toEqual([]);
  });

  describe('a source that changed since the release too', () => {
    let release: string;
    beforeEach(async () => {
      release = join(dir, 'release-3');
      await mkdir(join(release, 'etc'), { recursive: true });
      for (const [p, data] of Object.entries(RELEASE)) await writeFile(join(release, p), data);
    });

    it("merges the node's edit into a text file the source changed elsewhere, keeping the source's permissions", async () => {
      const base = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n';
      RELEASE['etc/php.ini'] = base;
      try {
        await writeFile(join(release, 'etc/php.ini'), base);
        await writeFile(join(source, 'etc/php.ini'), base.replace('eight', 'eight=master'));
        await chmod(join(source, 'etc/php.ini'), 0o664);
        await record({ 'etc/php.ini': base.replace('two', 'two=hotfix') }, [], 0o444);
        const b = await bundle();
        const [c] = await compareWithSource(b, source, { release });
        expect(c).toMatchObject({ letter: 'M', path: 'etc/php.ini', merged: true });
        expect(c!.diff).toContain('-two\n+two=hotfix\n');
        expect(c!.diff).not.toContain('eight');
        expect(await applyToSource(b, source, { release })).toEqual({ written: ['etc/php.ini'], removed: [] });
        expect(await readFile(join(source, 'etc/php.ini'), 'utf8')).toBe(base.replace('two', 'two=hotfix').replace('eight', 'eight=master'));
        expect((await lstat(join(source, 'etc/php.ini'))).mode & 0o777).toBe(0o664);
      } finally {
        delete RELEASE['etc/php.ini'];
      }
    });

    it('refuses, writing nothing, to undo a change of the source: the same lines edited on both sides, a removal, or no release text to merge with', async () => {
      await writeFile(join(source, 'etc/app.conf'), 'a\nb-master\nc\n');
      await writeFile(join(source, 'old.txt'), 'bye, edited on the master\n');
      await record({ 'etc/app.conf': 'a\nB\nc\n', 'new.txt': 'hello\n' }, ['old.txt']);
      const b = await bundle();
      const changes = await compareWithSource(b, source, { release });
      expect(changes.map((c) => `${c.letter} ${c.path}`)).toEqual(['C etc/app.conf', 'A new.txt', 'C old.txt']);
      expect(changes[0]!.conflict).toBe('changed in the source since release 3');
      // The node's own edit, from the release's version: what to port by hand.
      expect(changes[0]!.diff).toContain(' a\n-b\n+B\n c\n');
      expect((await compareWithSource(b, source))[0]).toMatchObject({ letter: 'C', diff: null });

      const before = await tree(source);
      await expect(applyToSource(b, source, { release })).rejects.toMatchObject({ code: 'E_CONFLICT', message: expect.stringContaining('etc/app.conf (changed in the source since release 3)') });
      await expect(applyToSource(b, source, { release, paths: ['old.txt'], delete: true })).rejects.toMatchObject({ code: 'E_CONFLICT' });
      expect(await tree(source)).toEqual(before);

      expect(await applyToSource(b, source, { release, paths: ['new.txt'] })).toEqual({ written: ['new.txt'], removed: [] });
      expect(await applyToSource(b, source, { release, overwrite: true })).toEqual({ written: ['etc/app.conf', 'new.txt'], removed: [] });
      expect(await readFile(join(source, 'etc/app.conf'), 'utf8')).toBe('a\nB\nc\n');
    });

    it('takes a file that the source removed since the release as a conflict, and one the source added alike as nothing to do', async () => {
      await rm(join(source, 'etc/app.conf'));
      await writeFile(join(source, 'same.txt'), 'both\n');
      await record({ 'etc/app.conf': 'a\nB\nc\n', 'same.txt': 'both\n' });
      const changes = await compareWithSource(await bundle(), source, { release });
      expect(changes.map((c) => `${c.letter} ${c.path} ${c.conflict}`)).toEqual(['C etc/app.conf removed from the source since release 3']);
    });
  });
});
