import { randomBytes } from 'node:crypto';
import { appendFile, chmod, mkdir, open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateTree } from '../lib/gen-tree.js';
import { mb } from './format.js';

/** The file a sysadmin will edit by hand on a follower in step 3. */
export const CONFIG_FILE = 'etc/site.conf';
const SCRIPT = 'cgi-bin/status.cgi';

export interface SampleTree {
  root: string;
  /** Generated data files, relative paths. */
  paths: string[];
}

/**
 * The master's source tree: a web-root-like mix from generateTree (many small files, a few large
 * ones) plus a config file and a CGI script, the kind of files that get edited by hand.
 */
export async function makeSource(root: string, o: { bytes: number; files: number }): Promise<SampleTree> {
  const gen = await generateTree(root, { bytes: o.bytes, files: o.files, perDir: 25, seed: 42 });
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, CONFIG_FILE), '# site configuration, managed by chunkswarm\nListen 80\nMaxClients 150\nTimeout 60\n');
  await mkdir(join(root, 'cgi-bin'), { recursive: true });
  await writeFile(join(root, SCRIPT), '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "ok, version 1"\n');
  await chmod(join(root, SCRIPT), 0o755);
  return { root, paths: gen.paths };
}

async function sizes(tree: SampleTree): Promise<Array<{ path: string; size: number }>> {
  const all = await Promise.all(tree.paths.map(async (path) => ({ path, size: (await stat(join(tree.root, path))).size })));
  return all.filter((f) => f.size > 0).sort((a, b) => b.size - a.size || a.path.localeCompare(b.path));
}

/**
 * Release 2: a handful of typical changes. Returns one line per change. A patch inside a large
 * file only changes the chunks around it (content-defined chunking), so little has to move.
 */
export async function changeSome(tree: SampleTree): Promise<string[]> {
  const bySize = await sizes(tree);
  const largest = bySize[0]!;
  const medium = bySize[Math.floor(bySize.length / 4)]!;
  const small = bySize.slice(-2);
  const out: string[] = [];

  const fh = await open(join(tree.root, largest.path), 'r+');
  await fh.write(randomBytes(4096), 0, 4096, Math.floor(largest.size / 2));
  await fh.close();
  out.push(`4 KB patched in the middle of ${largest.path} (a ${mb(largest.size)} file)`);

  await appendFile(join(tree.root, medium.path), randomBytes(10_000));
  out.push(`10 KB appended to ${medium.path} (${mb(medium.size)})`);

  for (const f of small) {
    await writeFile(join(tree.root, f.path), randomBytes(f.size));
    out.push(`${f.path} rewritten (${(f.size / 1000).toFixed(1)} KB)`);
  }

  await writeFile(join(tree.root, 'cgi-bin/report.cgi'), '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "new report page"\n', { mode: 0o755 });
  out.push('cgi-bin/report.cgi added');
  return out;
}

/** Release 3: the master's own small change, unrelated to the hand edit on the follower. */
export async function changeScript(tree: SampleTree): Promise<string> {
  await writeFile(join(tree.root, SCRIPT), '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "ok, version 3"\n');
  return `${SCRIPT}: one line changed`;
}
