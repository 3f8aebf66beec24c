import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalCluster, NodeHandle } from '../lib/cluster.js';
import { CLI } from '../lib/run.js';
import type { DriftReport } from '../../src/index.js';
import { CONFIG_FILE } from './source.js';

/** The hotfix line the sysadmin appends on the follower. */
export const HOTFIX = 'MaxClients 512   # hotfix, made by hand on this frontend';

function run(cmd: string, args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A chunkswarm command on one node, as its sysadmin would type it; exit codes are results, not failures. */
export function chunkswarm(n: NodeHandle, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, '-c', n.config, ...args]);
}

/**
 * What a sysadmin does on a frontend: the live tree is read-only, so make the file writable and
 * append a line. Returns the shell command, run for real in the node's directory.
 */
export async function editByHand(n: NodeHandle): Promise<string> {
  const file = `live/${CONFIG_FILE}`;
  const cmd = `chmod u+w ${file} && echo '${HOTFIX}' >> ${file}`;
  const r = await run('sh', ['-c', cmd], n.dir);
  if (r.code !== 0) throw new Error(`the hand edit failed: ${r.stderr}`);
  return cmd;
}

/** Waits for the node's own periodic check (status.json "verify") to report the change. */
export async function waitDetected(cluster: LocalCluster, n: NodeHandle, since: Date, timeoutMs: number): Promise<string> {
  await cluster.waitFor(`${n.name} to notice the hand edit`, async () => {
    const v = (await cluster.status(n))?.verify;
    return !!v && new Date(v.at) >= since && v.changed > 0;
  }, timeoutMs);
  const warning = (await cluster.log(n)).split('\n').filter((l) => l.includes('WARNING: live release')).at(-1);
  return warning?.replace(/^\S+ /, '') ?? '(no warning line in serve.log)';
}

/** The newest drift record of a node, from `chunkswarm drift list --json`. */
export async function newestDrift(n: NodeHandle): Promise<DriftReport> {
  const r = await chunkswarm(n, 'drift', 'list', '--json');
  if (r.code !== 0) throw new Error(`drift list failed: ${r.stderr}`);
  const list = JSON.parse(r.stdout) as DriftReport[];
  if (list.length === 0) throw new Error(`${n.name} recorded no drift`);
  return list.at(-1)!;
}

/** The preserved copy of the edited file in the node's drift directory. */
export function preservedCopy(n: NodeHandle, id: string): string {
  return join(n.dataDir, 'drift', id, CONFIG_FILE);
}

export async function lastLine(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).trimEnd().split('\n').at(-1) ?? '';
}
