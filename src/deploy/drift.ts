import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, symlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { atomicWrite, type ReleaseStore } from '../store/index.js';
import { lstatOrNull } from './stage-fs.js';
import type { DriftEntry, DriftKind, VerifyResult } from './verify-result.js';

export type DriftPolicy = 'preserve' | 'block' | 'overwrite';

export interface DriftReport {
  id: string;
  /** The live release the drift was found in. */
  version: number;
  /** The release about to replace it, if any. */
  replacedBy: number | null;
  created: string;
  policy: DriftPolicy;
  livePath: string;
  counts: Record<DriftKind, number>;
  /** driftSignature() of what was found. */
  signature: string;
  /** Paths whose content (file or symlink) was copied into the drift directory. */
  preserved: string[];
  /**
   * Set when the drift was found in what stood at livePath before chunkswarm took it over
   * (`adoptLive`): a real directory, kept whole at `keptAt`, or a symlink to `keptAt`, left alone.
   * The entries compare it with the release that took its place.
   */
  adopted?: { what: string; keptAt: string };
  entries: DriftEntry[];
}

export interface DriftRecord {
  id: string;
  dir: string;
  report: DriftReport;
}

/** Changes that verification found in a live tree, whatever their kind. */
export function hasDrift(v: VerifyResult): boolean {
  return v.entries.length > 0;
}

/** Names one observed drift, so that `drift ack` acknowledges exactly what was seen and nothing newer. */
export function driftSignature(v: VerifyResult): string {
  const h = createHash('sha256').update(String(v.version));
  for (const e of v.entries) h.update(JSON.stringify([e.path, e.kind, e.new?.hash, e.new?.size, e.new?.mtime, e.new?.mode, e.new?.target]));
  return h.digest('hex');
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * Writes drift/<time>-<version>/ with report.json and, when `copy`, a copy of every file and
 * symlink that was edited or added by hand (the release itself can be re-made from the swarm; those
 * bytes cannot). The same drift seen again by another try of the same switch (its release went
 * back to staging, say) is the record already made: one hand edit, one record.
 */
export async function recordDrift(o: {
  releases: ReleaseStore;
  livePath: string;
  verify: VerifyResult;
  policy: DriftPolicy;
  replacedBy: number | null;
  copy: boolean;
  adopted?: DriftReport['adopted'];
}): Promise<DriftRecord> {
  const signature = driftSignature(o.verify);
  const last = await latestDrift(o.releases, o.verify.version);
  if (last && last.signature === signature && last.replacedBy === o.replacedBy && last.policy === o.policy && last.livePath === o.livePath) {
    return { id: last.id, dir: join(o.releases.driftDir, last.id), report: last };
  }
  const now = new Date();
  let id = `${stamp(now)}-${o.verify.version}`;
  for (let n = 2; (await lstatOrNull(join(o.releases.driftDir, id))) !== null; n++) id = `${stamp(now)}-${o.verify.version}-${n}`;
  const dir = join(o.releases.driftDir, id);
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `creating ${dir}`);
  });
  const preserved: string[] = [];
  if (o.copy) {
    for (const e of o.verify.entries) {
      if (e.kind === 'removed' || e.kind === 'meta' || !e.new) continue;
      const dest = join(dir, e.path);
      if (e.new.type === 'directory') {
        await mkdir(dest, { recursive: true, mode: 0o700 }).catch((err) => {
          throw ChunkswarmError.fromSystem(err, `creating ${dest}`);
        });
        continue;
      }
      if (e.new.type !== 'file' && e.new.type !== 'symlink') continue;
      await mkdir(dirname(dest), { recursive: true, mode: 0o700 }).catch((err) => {
        throw ChunkswarmError.fromSystem(err, `creating ${dirname(dest)}`);
      });
      if (e.new.type === 'symlink') await symlink(e.new.target!, dest).catch((err) => {
        throw ChunkswarmError.fromSystem(err, `preserving ${e.path}`);
      });
      else await copyNoFollow(join(o.verify.dir, e.path), dest, e.new.mtime);
      preserved.push(e.path);
    }
  }
  const report: DriftReport = {
    id, version: o.verify.version, replacedBy: o.replacedBy, created: now.toISOString(), policy: o.policy,
    livePath: o.livePath, counts: o.verify.counts, signature, preserved, ...(o.adopted && { adopted: o.adopted }), entries: o.verify.entries,
  };
  await atomicWrite(join(dir, 'report.json'), JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
  return { id, dir, report };
}

export async function listDrift(releases: ReleaseStore): Promise<Array<Omit<DriftReport, 'entries'>>> {
  const out: Array<Omit<DriftReport, 'entries'>> = [];
  for (const id of await driftIds(releases)) {
    const r = await showDrift(releases, id).catch(() => null);
    if (!r) continue;
    const { entries: _entries, ...summary } = r;
    out.push(summary);
  }
  return out;
}

/** The newest record of drift found in release `version`, if any: records are read newest first, up to it. */
export async function latestDrift(releases: ReleaseStore, version: number): Promise<DriftReport | null> {
  for (const id of (await driftIds(releases)).reverse()) {
    const r = await showDrift(releases, id).catch(() => null);
    if (r?.version === version) return r;
  }
  return null;
}

/** The records' ids, oldest first (an id begins with its time). */
async function driftIds(releases: ReleaseStore): Promise<string[]> {
  return (await readdir(releases.driftDir).catch(() => [] as string[])).sort();
}

export async function showDrift(releases: ReleaseStore, id: string): Promise<DriftReport> {
  if (!/^[0-9TZ]+-\d+(-\d+)?$/.test(id)) throw ChunkswarmError.usage(`not a drift record id: ${JSON.stringify(id)} (see chunkswarm drift list)`);
  try {
    return JSON.parse(await readFile(join(releases.driftDir, id, 'report.json'), 'utf8')) as DriftReport;
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `reading drift record ${id}`);
  }
}

/** Copies a regular file without following a symlink, keeping its mtime; 0600, since it may hold anything. */
async function copyNoFollow(src: string, dest: string, mtime: number): Promise<void> {
  try {
    const input = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const output = await open(dest, 'wx', 0o600);
      try {
        const buf = Buffer.allocUnsafe(1 << 20);
        for (;;) {
          const { bytesRead } = await input.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          await output.write(buf, 0, bytesRead);
        }
      } finally {
        await output.close();
      }
    } finally {
      await input.close();
    }
    await utimes(dest, mtime / 1000, mtime / 1000);
  } catch (err) {
    throw ChunkswarmError.fromSystem(err, `preserving ${src}`);
  }
}
