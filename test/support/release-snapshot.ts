import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { compareNames, hashFile, type TreeEntry } from '../../src/manifest/index.js';
import type { ObjectStore } from '../../src/store/index.js';
import type { ObjectHash } from '../../src/core/index.js';

/** Records a tree as it is now into `objects`, as a publisher would (entries carry the on-disk modes); its root's hash. */
export async function snapshotTree(objects: ObjectStore, abs: string): Promise<ObjectHash> {
  const entries: TreeEntry[] = [];
  for (const name of (await readdir(abs)).sort(compareNames)) {
    const st = await lstat(join(abs, name));
    const base = { name, mode: st.mode & 0o7777, mtime: Math.round(st.mtimeMs) };
    if (st.isDirectory()) entries.push({ ...base, type: 'dir', hash: await snapshotTree(objects, join(abs, name)) });
    else if (st.isSymbolicLink()) entries.push({ ...base, type: 'symlink', target: await readlink(join(abs, name)) });
    else entries.push({ ...base, type: 'file', hash: await objects.put(await hashFile(join(abs, name))) });
  }
  return objects.put({ kind: 'tree', entries });
}
