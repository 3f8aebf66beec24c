import { lstat, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { compareNames, validateName } from '../manifest/index.js';

interface ScannedBase {
  name: string;
  /** '/'-joined path relative to the scanned root. */
  path: string;
  stat: Stats;
}
export interface ScannedFile extends ScannedBase {
  type: 'file';
  /** Hard-link group inside the tree (1..), set only where two or more paths share an inode. */
  link?: number;
}
export interface ScannedSymlink extends ScannedBase {
  type: 'symlink';
  target: string;
}
export interface ScannedDir extends ScannedBase {
  type: 'dir';
  children: ScannedNode[];
}
export type ScannedNode = ScannedFile | ScannedSymlink | ScannedDir;

export interface ScanResult {
  root: ScannedDir;
  /** Regular files in canonical (depth-first, name-sorted) order. */
  files: ScannedFile[];
  /** Devices, fifos and sockets: a tree image cannot carry them. */
  skipped: Array<{ path: string; kind: string }>;
  dirs: number;
  symlinks: number;
}

function specialKind(st: Stats): string {
  if (st.isBlockDevice()) return 'block device';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'unknown';
}

/** One lstat per entry; never follows a symlink. */
export async function scanSource(rootDir: string): Promise<ScanResult> {
  const rootStat = await lstat(rootDir).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `reading source directory ${rootDir}`);
  });
  if (!rootStat.isDirectory()) throw ChunkswarmError.usage(`source ${rootDir} is not a directory`);
  const result: ScanResult = {
    root: { type: 'dir', name: '', path: '', stat: rootStat, children: [] },
    files: [],
    skipped: [],
    dirs: 0,
    symlinks: 0,
  };
  await scanDir(rootDir, result.root, result);
  assignLinkGroups(result.files);
  return result;
}

async function scanDir(abs: string, dir: ScannedDir, out: ScanResult): Promise<void> {
  const names = (await readdir(abs).catch((err) => {
    throw ChunkswarmError.fromSystem(err, `listing ${abs}`);
  })).sort(compareNames);
  const stats = await Promise.all(
    names.map((n) =>
      lstat(join(abs, n)).catch((err) => {
        throw ChunkswarmError.fromSystem(err, `reading ${join(abs, n)}`);
      }),
    ),
  );
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const st = stats[i]!;
    const path = dir.path ? `${dir.path}/${name}` : name;
    validateName(name);
    if (st.isDirectory()) {
      const child: ScannedDir = { type: 'dir', name, path, stat: st, children: [] };
      dir.children.push(child);
      out.dirs++;
      await scanDir(join(abs, name), child, out);
    } else if (st.isFile()) {
      const child: ScannedFile = { type: 'file', name, path, stat: st };
      dir.children.push(child);
      out.files.push(child);
    } else if (st.isSymbolicLink()) {
      dir.children.push({ type: 'symlink', name, path, stat: st, target: await readlink(join(abs, name)) });
      out.symlinks++;
    } else {
      out.skipped.push({ path, kind: specialKind(st) });
    }
  }
}

/** Numbered by first appearance in canonical order so that the same tree gives the same numbers. */
function assignLinkGroups(files: ScannedFile[]): void {
  const byInode = new Map<string, ScannedFile[]>();
  for (const f of files) {
    if (f.stat.nlink < 2) continue;
    const key = `${f.stat.dev}:${f.stat.ino}`;
    const group = byInode.get(key);
    if (group) group.push(f);
    else byInode.set(key, [f]);
  }
  let next = 1;
  for (const f of files) {
    const group = byInode.get(`${f.stat.dev}:${f.stat.ino}`);
    if (!group || group.length < 2) continue;
    if (group[0] === f) {
      for (const member of group) member.link = next;
      next++;
    }
  }
}
