import { constants } from 'node:fs';
import { lstat, open, readdir, readlink, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError, isChunkswarmError, type ErrorCode } from '../core/index.js';
import type { DriftReport } from '../deploy/index.js';
import { validateName } from '../manifest/index.js';

/** One preserved path of a drift record, as it travels. */
export interface BundleFile {
  path: string;
  kind: 'file' | 'symlink';
  /** Permission bits of the preserved copy (drift copies are 0600; the report has the live mode). */
  mode: number;
  size: number;
  target?: string;
}

/** A drift record fetched from another node: its report and the bytes of every preserved file. */
export interface DriftBundle {
  record: DriftReport;
  files: Array<BundleFile & { data: Buffer }>;
}

type Header = { ok: true; record: DriftReport; files: BundleFile[] } | { ok: false; code: ErrorCode; message: string };

const RECORD_ID = /^[0-9TZ]+-\d+(-\d+)?$/;
const PULLED_FILE = 'pulled.json';
const MAX_HEADER_BYTES = 4 << 20;

/** Throws E_UNSAFE_PATH unless `p` is a relative path that stays inside the directory it is joined to. */
export function checkRelativePath(p: unknown): asserts p is string {
  if (typeof p !== 'string' || p === '') throw ChunkswarmError.unsafePath(String(p), 'empty path');
  if (p.startsWith('/')) throw ChunkswarmError.unsafePath(p, 'absolute path');
  if (p.length > 4096) throw ChunkswarmError.unsafePath(p.slice(0, 64), 'path longer than 4096 characters');
  for (const name of p.split('/')) validateName(name);
}

/**
 * The answer to a peer's request for drift record `id` ('' for the newest): read only from
 * `driftDir`, never following a symlink, and refused with E_TOO_LARGE above `limit` bytes of
 * preserved content. Errors become an answer too (the peer shows their code), never a throw;
 * `served` is the record sent, null for a refusal.
 */
export async function packDriftRecord(driftDir: string, id: string, limit: number): Promise<{ bytes: Uint8Array; served: string | null }> {
  let header: Header;
  let data: Buffer[] = [];
  try {
    const record = await readRecord(driftDir, id === '' ? await newestRecord(driftDir) : id);
    const files: BundleFile[] = [];
    let total = 0;
    for (const path of record.preserved) {
      checkRelativePath(path);
      const full = join(driftDir, record.id, path);
      const st = await lstat(full);
      if (st.isSymbolicLink()) {
        files.push({ path, kind: 'symlink', mode: st.mode & 0o7777, size: 0, target: await readlink(full) });
        continue;
      }
      if (!st.isFile()) continue; // a directory created by hand: its files are listed themselves
      const bytes = st.size + total > limit ? null : await readNoFollow(full);
      total += bytes?.length ?? st.size;
      if (bytes === null || total > limit) {
        throw new ChunkswarmError('E_TOO_LARGE', `drift record ${record.id} holds more than ${limit} bytes of files (fleet.maxDriftPullBytes on the node that holds it)`);
      }
      files.push({ path, kind: 'file', mode: st.mode & 0o7777, size: bytes.length });
      data.push(bytes);
    }
    header = { ok: true, record, files };
  } catch (err) {
    const e = ChunkswarmError.fromSystem(err, `reading drift record ${id || '(newest)'}`);
    header = { ok: false, code: e.code, message: e.message };
    data = [];
  }
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(h.length);
  return { bytes: Buffer.concat([len, h, ...data]), served: header.ok ? header.record.id : null };
}

/**
 * A peer's answer, checked: the limit, every path, sizes that add up. A refusal by the peer comes
 * back as its coded error. `from` names the peer in messages.
 */
export function unpackDriftRecord(bytes: Uint8Array, limit: number, from: string): DriftBundle {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string) => new ChunkswarmError('E_PROTOCOL', `node ${from} sent a malformed drift record: ${why}`);
  if (buf.length < 4) throw bad('too short');
  const hlen = buf.readUInt32BE(0);
  if (hlen > MAX_HEADER_BYTES || 4 + hlen > buf.length) throw bad(`header of ${hlen} bytes`);
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(4, 4 + hlen).toString('utf8')) as Header;
  } catch {
    throw bad('header is not JSON');
  }
  if (!header.ok) throw new ChunkswarmError(header.code, `node ${from}: ${header.message}`);
  const body = buf.subarray(4 + hlen);
  if (body.length > limit) throw ChunkswarmError.tooLarge(`drift record from node ${from}`, body.length, limit);
  if (typeof header.record?.id !== 'string' || !RECORD_ID.test(header.record.id) || !Array.isArray(header.files) || !Array.isArray(header.record.entries)) throw bad('no record');
  const files: DriftBundle['files'] = [];
  let offset = 0;
  for (const f of header.files) {
    checkRelativePath(f.path);
    if (f.kind !== 'file' && f.kind !== 'symlink') throw bad(`${f.path} is a ${String(f.kind)}`);
    if (!Number.isSafeInteger(f.size) || f.size < 0 || offset + f.size > body.length) throw bad(`size of ${f.path}`);
    if (f.kind === 'symlink' && typeof f.target !== 'string') throw bad(`symlink ${f.path} without a target`);
    files.push({ ...f, data: Buffer.from(body.subarray(offset, offset + f.size)) });
    offset += f.size;
  }
  if (offset !== body.length) throw bad(`${body.length - offset} bytes after the last file`);
  for (const e of header.record.entries) checkRelativePath(e.path);
  return { record: header.record, files };
}

/** Remembers that a peer fetched record `id`, so that the fleet stops showing it as unpulled. */
export async function markPulled(driftDir: string, id: string, by: string): Promise<void> {
  await writeFile(join(driftDir, id, PULLED_FILE), JSON.stringify({ by, at: new Date().toISOString() }) + '\n', { mode: 0o600 });
}

/** Records in `driftDir`, oldest first, and which of them nobody pulled yet. */
export async function driftRecordIds(driftDir: string): Promise<{ all: string[]; unpulled: string[] }> {
  const all = (await readdir(driftDir).catch(() => [] as string[])).filter((n) => RECORD_ID.test(n)).sort();
  const unpulled: string[] = [];
  for (const id of all) {
    if (await access(join(driftDir, id, PULLED_FILE)).then(() => false, () => true)) unpulled.push(id);
  }
  return { all, unpulled };
}

async function newestRecord(driftDir: string): Promise<string> {
  const { all } = await driftRecordIds(driftDir);
  if (all.length === 0) throw new ChunkswarmError('E_NOT_FOUND', 'no drift record: no hand edit of its live tree was found or preserved');
  return all[all.length - 1]!;
}

async function readRecord(driftDir: string, id: string): Promise<DriftReport> {
  if (!RECORD_ID.test(id)) throw ChunkswarmError.notFound(`drift record ${JSON.stringify(id.slice(0, 64))} (not a record id)`);
  const bytes = await readNoFollow(join(driftDir, id, 'report.json')).catch((err: unknown) => {
    if (isChunkswarmError(err, 'E_NOT_FOUND')) throw ChunkswarmError.notFound(`drift record ${id} on this node`);
    throw err;
  });
  return JSON.parse(bytes.toString('utf8')) as DriftReport;
}

async function readNoFollow(path: string): Promise<Buffer> {
  try {
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  }
}
