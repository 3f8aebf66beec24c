import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readlink, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import type { DriftEntry, EntryState } from '../deploy/index.js';
import { contentHashOf, contentHashOfFile } from '../manifest/index.js';
import { checkRelativePath, type DriftBundle } from './drift-bundle.js';
import { isBinary, mergeEdit, unifiedDiff } from './text-diff.js';

/** One line of `drift pull`: what applying the record would do to the master's source tree. */
export interface SourceChange {
  /**
   * M: differs from the source; A: not in the source; D: removed on the node, still in the source;
   * P: only mode/mtime changed there; C: the source changed the path too since the release the
   * drift was found in, and the node's edit does not merge into it (--apply refuses it unless
   * told to overwrite).
   */
  letter: 'M' | 'A' | 'D' | 'P' | 'C';
  path: string;
  kind: 'file' | 'symlink' | 'other';
  binary: boolean;
  /**
   * Unified diff of what applying does to the source file, for text files. On a C line: the
   * node's edit of the release's version, where that version is at hand (SourceOptions.release).
   */
  diff: string | null;
  /** M: the source changed since the release too, and the node's edit was merged into its version. */
  merged?: boolean;
  /** C: what the source did to the path since the release. */
  conflict?: string;
}

export interface SourceOptions {
  /**
   * The tree of the release the drift was found in (the master's releases/<v>): with it, a text
   * file edited on the node and changed in the source since is merged rather than refused.
   */
  release?: string;
}

/** What the record holds that the source tree does not, path by path; paths already equal are left out. */
export async function compareWithSource(bundle: DriftBundle, sourceDir: string, o: SourceOptions = {}): Promise<SourceChange[]> {
  await requireDir(sourceDir);
  return [...(await planAgainstSource(bundle, sourceDir, o)).values()].map((p) => p.change);
}

/** A path of the record that differs from the source: its line, and the bytes --apply writes for a file. */
interface Planned {
  change: SourceChange;
  data?: Buffer;
}

/**
 * The record against the source, path by path. A path the source still holds as the release had
 * it takes the node's version as it is. One the source changed since (the master fixed it too,
 * often in the very release that replaced the drifted one) would lose that change if it were
 * overwritten: a text file takes the node's edit merged into the source's version where the two
 * do not overlap, anything else is a conflict.
 */
async function planAgainstSource(bundle: DriftBundle, sourceDir: string, o: SourceOptions): Promise<Map<string, Planned>> {
  const preserved = new Map(bundle.files.map((f) => [f.path, f]));
  const version = bundle.record.version;
  const out = new Map<string, Planned>();
  const add = (change: SourceChange, data?: Buffer) => out.set(change.path, { change, ...(data && { data }) });
  for (const e of bundle.record.entries) {
    checkRelativePath(e.path);
    const abs = join(sourceDir, e.path);
    const current = await lstat(abs).catch(() => null);
    if (e.kind === 'meta') {
      add({ letter: 'P', path: e.path, kind: 'other', binary: false, diff: null });
      continue;
    }
    const since = current === null ? `removed from the source since release ${version}` : e.old ? `changed in the source since release ${version}` : `added to the source since release ${version}`;
    if (e.kind === 'removed') {
      if (!current) continue;
      const untouched = await holdsReleaseVersion(abs, current, e.old);
      add({ letter: untouched ? 'D' : 'C', path: e.path, kind: kindOf(current), binary: false, diff: null, ...(!untouched && { conflict: since }) });
      continue;
    }
    const f = preserved.get(e.path);
    if (!f) continue; // a directory made by hand: its files have entries of their own
    if (f.kind === 'symlink') {
      const was = current?.isSymbolicLink() ? await readlink(abs) : null;
      if (was === f.target) continue;
      const untouched = await holdsReleaseVersion(abs, current, e.old);
      const diff = `symlink -> ${f.target}${was === null ? '' : ` (was ${was})`}\n`;
      add({ letter: untouched ? (current ? 'M' : 'A') : 'C', path: e.path, kind: 'symlink', binary: false, diff, ...(!untouched && { conflict: since }) });
      continue;
    }
    const before = current?.isFile() ? await readFile(abs) : null;
    if (before && before.equals(f.data)) continue;
    const binary = isBinary(f.data) || (before !== null && isBinary(before));
    if (await holdsReleaseVersion(abs, current, e.old, before)) {
      add({ letter: current ? 'M' : 'A', path: e.path, kind: 'file', binary, diff: binary ? null : unifiedDiff(e.path, before, f.data) });
      continue;
    }
    const base = e.old?.hash ? await releaseText(o.release, e.path, e.old.hash) : null;
    const merged = base !== null && before !== null && !binary ? mergeEdit(base, f.data, before) : null;
    if (merged) {
      add({ letter: 'M', path: e.path, kind: 'file', binary, diff: unifiedDiff(e.path, before, merged), merged: true }, merged);
      continue;
    }
    const edit = base !== null && !binary ? unifiedDiff(e.path, base, f.data) : null;
    add({ letter: 'C', path: e.path, kind: current ? kindOf(current) : 'file', binary, diff: edit, conflict: since });
  }
  return out;
}

function kindOf(st: Stats): SourceChange['kind'] {
  return st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
}

/**
 * Whether the source still holds the path as the release had it (absent, where the release had
 * nothing there). A file is hashed from `bytes` when they were read anyway, else streamed: a file
 * removed on the node may be a large one.
 */
async function holdsReleaseVersion(abs: string, current: Stats | null, was: EntryState | undefined, bytes: Buffer | null = null): Promise<boolean> {
  if (!was) return current === null;
  if (!current) return false;
  if (was.type === 'symlink') return current.isSymbolicLink() && (await readlink(abs)) === was.target;
  if (was.type === 'directory') return current.isDirectory();
  if (was.type !== 'file' || !current.isFile() || current.size !== was.size) return false;
  return (bytes ? contentHashOf(bytes) : await contentHashOfFile(abs)) === was.hash;
}

/** The release's version of a file, from its tree on this node, if it is there and still exactly that. */
async function releaseText(tree: string | undefined, path: string, hash: string): Promise<Buffer | null> {
  if (tree === undefined) return null;
  const bytes = await readFile(join(tree, path)).catch(() => null);
  return bytes !== null && !isBinary(bytes) && contentHashOf(bytes) === hash ? bytes : null;
}

/**
 * The permissions a file brought back from a node gets in the source. A release is read-only on
 * disk (write bits cleared), so the node's write bits say nothing of the source's: they stay the
 * source file's, and a file whose permissions were not changed by hand keeps the source's as they are.
 */
function sourceMode(e: DriftEntry | undefined, current: Stats | null): number {
  const seen = (e?.new?.mode ?? 0o644) & 0o7777;
  const source = current?.isFile() ? current.mode & 0o7777 : null;
  if (source !== null && e?.old && seen === e.old.mode) return source;
  return (seen & ~0o222) | (source !== null ? source & 0o222 : seen & 0o222);
}

export interface ApplyOptions extends SourceOptions {
  /** Only these paths (default: every file and symlink the record preserved). */
  paths?: string[];
  /** Also remove from the source what was removed on the node (D lines). */
  delete?: boolean;
  /** Take the node's version of a path the source changed too (C lines) over the source's. */
  overwrite?: boolean;
}

/**
 * Copies the chosen files of a drift record into the master's source tree: the node's version, or
 * the node's edit merged into a source file changed since (see planAgainstSource). Everything is
 * checked before the first write (paths, the directories on the way: none may be a symlink or a
 * file; no conflict unless `overwrite`), so a bad record writes nothing; each file lands whole
 * (written beside, then renamed), and nothing outside `sourceDir` is ever written.
 */
export async function applyToSource(bundle: DriftBundle, sourceDir: string, o: ApplyOptions = {}): Promise<{ written: string[]; removed: string[] }> {
  await requireDir(sourceDir);
  const files = new Map(bundle.files.map((f) => [f.path, f]));
  const removed = o.delete ? bundle.record.entries.filter((e) => e.kind === 'removed').map((e) => e.path) : [];
  const chosen = o.paths ?? [...files.keys()];
  for (const p of chosen) {
    checkRelativePath(p);
    if (!files.has(p) && !removed.includes(p)) throw ChunkswarmError.notFound(`${p} in drift record ${bundle.record.id}`);
  }
  const writes = chosen.filter((p) => files.has(p));
  const deletes = removed.filter((p) => o.paths === undefined || o.paths.includes(p));
  for (const p of [...writes, ...deletes]) await checkInside(sourceDir, p);
  const plan = await planAgainstSource(bundle, sourceDir, o);
  const conflicts = [...writes, ...deletes].filter((p) => plan.get(p)?.change.letter === 'C');
  if (conflicts.length > 0 && !o.overwrite) {
    const listed = conflicts.slice(0, 5).map((p) => `${p} (${plan.get(p)!.change.conflict})`).join(', ');
    throw new ChunkswarmError(
      'E_CONFLICT',
      `${listed}${conflicts.length > 5 ? ` and ${conflicts.length - 5} more` : ''}: the node's version would undo the source's own change, and the two do not merge; ` +
        `nothing was written to ${sourceDir}. Merge by hand ("drift pull" without --apply shows the node's edit), leave them out with --path, or take the node's version with --overwrite`,
    );
  }
  const entries = new Map(bundle.record.entries.map((e) => [e.path, e]));
  for (const p of writes) {
    const f = files.get(p)!;
    const dest = join(sourceDir, p);
    const mode = sourceMode(entries.get(p), await lstat(dest).catch(() => null));
    await mkdir(dirname(dest), { recursive: true });
    const tmp = join(dirname(dest), `.chunkswarm-pull-${randomBytes(6).toString('hex')}`);
    try {
      if (f.kind === 'symlink') await symlink(f.target!, tmp);
      else {
        await writeFile(tmp, plan.get(p)?.data ?? f.data, { flag: 'wx', mode: 0o600 });
        await chmod(tmp, mode); // exactly, whatever the umask
      }
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw ChunkswarmError.fromSystem(err, `writing ${dest}`);
    }
  }
  const gone: string[] = [];
  for (const p of deletes) {
    const st = await lstat(join(sourceDir, p)).catch(() => null);
    if (!st || st.isDirectory()) continue;
    await unlink(join(sourceDir, p));
    gone.push(p);
  }
  return { written: writes, removed: gone };
}

async function requireDir(dir: string): Promise<void> {
  const st = await stat(dir).catch((err: unknown) => {
    throw ChunkswarmError.fromSystem(err, `opening the source tree ${dir}`);
  });
  if (!st.isDirectory()) throw ChunkswarmError.usage(`${dir} is not a directory (the master's source tree)`);
}

/** E_UNSAFE_PATH if writing `rel` under `root` could land elsewhere: a symlink or a non-directory on the way, or a directory at the end. */
async function checkInside(root: string, rel: string): Promise<void> {
  const parts = rel.split('/');
  let at = root;
  for (let i = 0; i < parts.length; i++) {
    at = join(at, parts[i]!);
    const st = await lstat(at).catch(() => null);
    if (!st) return; // created below: nothing further down exists
    const last = i === parts.length - 1;
    if (!last && st.isSymbolicLink()) throw ChunkswarmError.unsafePath(rel, `${parts.slice(0, i + 1).join('/')} is a symlink in the source tree: writing through it could leave the tree`);
    if (!last && !st.isDirectory()) throw ChunkswarmError.unsafePath(rel, `${parts.slice(0, i + 1).join('/')} is not a directory in the source tree`);
    if (last && st.isDirectory()) throw ChunkswarmError.unsafePath(rel, 'is a directory in the source tree');
  }
}
