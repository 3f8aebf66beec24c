import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readlink, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { checkRelativePath, type DriftBundle } from './drift-bundle.js';
import { isBinary, unifiedDiff } from './text-diff.js';

/** One line of `drift pull`: what applying the record would do to the master's source tree. */
export interface SourceChange {
  /** M: differs from the source; A: not in the source; D: removed on the node, still in the source; P: only mode/mtime changed there. */
  letter: 'M' | 'A' | 'D' | 'P';
  path: string;
  kind: 'file' | 'symlink' | 'other';
  binary: boolean;
  /** Unified diff, source -> node, for text files. */
  diff: string | null;
}

/** What the record holds that the source tree does not, path by path; paths already equal are left out. */
export async function compareWithSource(bundle: DriftBundle, sourceDir: string): Promise<SourceChange[]> {
  await requireDir(sourceDir);
  const preserved = new Map(bundle.files.map((f) => [f.path, f]));
  const out: SourceChange[] = [];
  for (const e of bundle.record.entries) {
    checkRelativePath(e.path);
    const current = await lstat(join(sourceDir, e.path)).catch(() => null);
    const f = preserved.get(e.path);
    if (e.kind === 'removed') {
      if (current) out.push({ letter: 'D', path: e.path, kind: current.isFile() ? 'file' : current.isSymbolicLink() ? 'symlink' : 'other', binary: false, diff: null });
      continue;
    }
    if (e.kind === 'meta') {
      out.push({ letter: 'P', path: e.path, kind: 'other', binary: false, diff: null });
      continue;
    }
    if (!f) continue; // a directory made by hand: its files have entries of their own
    if (f.kind === 'symlink') {
      const was = current?.isSymbolicLink() ? await readlink(join(sourceDir, e.path)) : null;
      if (was !== f.target) out.push({ letter: current ? 'M' : 'A', path: e.path, kind: 'symlink', binary: false, diff: `symlink -> ${f.target}${was === null ? '' : ` (was ${was})`}\n` });
      continue;
    }
    const before = current?.isFile() ? await readFile(join(sourceDir, e.path)) : null;
    if (before && before.equals(f.data)) continue;
    const binary = isBinary(f.data) || (before !== null && isBinary(before));
    out.push({ letter: current ? 'M' : 'A', path: e.path, kind: 'file', binary, diff: binary ? null : unifiedDiff(e.path, before, f.data) });
  }
  return out;
}

export interface ApplyOptions {
  /** Only these paths (default: every file and symlink the record preserved). */
  paths?: string[];
  /** Also remove from the source what was removed on the node (D lines). */
  delete?: boolean;
}

/**
 * Copies the chosen files of a drift record into the master's source tree. Everything is checked
 * before the first write (paths, the directories on the way: none may be a symlink or a file), so
 * a bad record writes nothing; each file lands whole (written beside, then renamed), and nothing
 * outside `sourceDir` is ever written.
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
  const mode = new Map(bundle.record.entries.map((e) => [e.path, e.new?.mode]));
  for (const p of writes) {
    const f = files.get(p)!;
    const dest = join(sourceDir, p);
    await mkdir(dirname(dest), { recursive: true });
    const tmp = join(dirname(dest), `.chunkswarm-pull-${randomBytes(6).toString('hex')}`);
    try {
      if (f.kind === 'symlink') await symlink(f.target!, tmp);
      else await writeFile(tmp, f.data, { flag: 'wx', mode: (mode.get(p) ?? 0o644) & 0o7777 });
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
