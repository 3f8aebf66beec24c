import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyToSource, compareWithSource, packDriftRecord, unpackDriftRecord, driftRecordIds, markPulled, type DriftBundle } from '../../src/fleet/index.js';
import type { DriftReport } from '../../src/deploy/index.js';

let dir: string;
let driftDir: string;
let source: string;
const ID = '20261202T010000Z-3';

function entry(path: string, kind: DriftReport['entries'][number]['kind']): DriftReport['entries'][number] {
  return { path, kind, ...(kind !== 'removed' && { new: { type: 'file', size: 1, mtime: 0, mode: 0o640 } }) };
}

async function record(files: Record<string, string | Buffer>, removed: string[] = []): Promise<void> {
  const d = join(driftDir, ID);
  for (const [p, data] of Object.entries(files)) {
    await mkdir(join(d, p, '..'), { recursive: true });
    await writeFile(join(d, p), data);
  }
  const entries = [...Object.keys(files).map((p) => entry(p, 'modified')), ...removed.map((p) => entry(p, 'removed'))];
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
});
