/**
 * Issue 11, "only root can run it": every command that writes releases works as an unprivileged
 * service user. The tests run as root, so each command here runs as uid/gid 65534 ("nobody")
 * through setpriv (or runuser), on directories that user owns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, chown, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropPrivileges, runCli, type CliResult } from '../support/cli.js';
import { makeSampleTree, settle } from '../support/tree.js';
import { LocalCluster } from '../../bench/lib/cluster.js';

const USER = 65534;
const drop = dropPrivileges(USER, USER);
let dir: string;

async function chownTree(path: string): Promise<void> {
  const { readdir, lstat } = await import('node:fs/promises');
  await chown(path, USER, USER);
  if (!(await lstat(path)).isDirectory()) return;
  for (const name of await readdir(path)) {
    const p = join(path, name);
    if ((await lstat(p)).isSymbolicLink()) continue;
    await chownTree(p);
  }
}

function asUser(...args: string[]): Promise<CliResult> {
  if (!('as' in drop)) throw new Error(drop.skip);
  return runCli(args, { as: drop.as, cwd: dir });
}

function ok(r: CliResult): CliResult {
  expect(r.code, `exit ${r.code}\n${r.stderr}`).toBe(0);
  return r;
}

beforeAll(async () => {
  if (!('as' in drop)) {
    console.log(`service-user test skipped: ${drop.skip}`);
    return;
  }
  dir = await mkdtemp(join(tmpdir(), 'cs-service-user-'));
  await chmod(dir, 0o755);
  await makeSampleTree(join(dir, 'src'));
  await chownTree(dir);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!('as' in drop))('as an unprivileged service user', () => {
  it('publishes, activates, updates, rolls back, verifies and collects garbage', async () => {
    const pub = join(dir, 'pub', 'swarm.config.json');
    const fol = join(dir, 'fol', 'swarm.config.json');
    ok(await asUser('init', '--dir', join(dir, 'pub'), '--publisher'));
    ok(await asUser('init', '--dir', join(dir, 'fol'), '--join', pub));
    ok(await asUser('-c', pub, 'publish', join(dir, 'src')));
    ok(await asUser('-c', fol, 'activate', '1', '--source-data', join(dir, 'pub', 'data')));
    expect(await readlink(join(dir, 'fol', 'live'))).toBe(join(dir, 'fol', 'data', 'releases', '1'));

    await writeFile(join(dir, 'src', 'etc/app.conf'), 'listen 80\nworkers 9\n');
    await chown(join(dir, 'src', 'etc/app.conf'), USER, USER);
    await settle();
    ok(await asUser('-c', pub, 'publish', join(dir, 'src')));
    ok(await asUser('-c', pub, 'republish', '1'));
    ok(await asUser('-c', fol, 'activate', '2', '--source-data', join(dir, 'pub', 'data')));
    expect(await readFile(join(dir, 'fol', 'live', 'etc/app.conf'), 'utf8')).toBe('listen 80\nworkers 9\n');
    ok(await asUser('-c', fol, 'verify', '--deep'));

    ok(await asUser('-c', fol, 'rollback'));
    expect(await readFile(join(dir, 'fol', 'live', 'etc/app.conf'), 'utf8')).toBe('listen 80\nworkers 4\n');
    ok(await asUser('-c', fol, 'unpin'));
    ok(await asUser('-c', fol, 'activate', '3', '--source-data', join(dir, 'pub', 'data')));
    ok(await asUser('-c', fol, 'verify', '--deep'));

    // Hand edits (by root) that reach the retained releases: healed by the service user on rollback.
    await chmod(join(dir, 'fol', 'live', 'data/medium.bin'), 0o640);
    await writeFile(join(dir, 'fol', 'live', 'etc/stray.conf'), 'stray\n');
    ok(await asUser('-c', fol, 'rollback', '2'));
    ok(await asUser('-c', fol, 'verify', '--deep'));
    ok(await asUser('-c', fol, 'unpin'));
    ok(await asUser('-c', fol, 'activate', '3'));
    ok(await asUser('-c', fol, 'verify', '--deep'));
    const cfg = JSON.parse(await readFile(fol, 'utf8')) as Record<string, unknown>;
    await writeFile(fol, JSON.stringify({ ...cfg, releases: { keep: 1 } }));
    const gc = JSON.parse(ok(await asUser('-c', fol, 'gc', '--json')).stdout) as { removed: Array<{ version: number }> };
    expect(gc.removed.map((r) => r.version)).toEqual([1, 2]);
  });

  it('keeps read access to its own files and directories, whatever mode they were published with', async () => {
    // Owned by root in the source: the publisher (the service user) reads them as "other".
    const src = join(dir, 'src-modes');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(src, 'locked'), { recursive: true });
    await writeFile(join(src, 'locked', 'inside.txt'), 'inside\n');
    await writeFile(join(src, 'others-only.txt'), 'others\n');
    await chmod(join(src, 'locked', 'inside.txt'), 0o444);
    await chmod(join(src, 'others-only.txt'), 0o044);
    await chmod(join(src, 'locked'), 0o055);
    await chown(src, USER, USER);
    await settle();
    const pub = join(dir, 'pub-modes', 'swarm.config.json');
    const fol = join(dir, 'fol-modes', 'swarm.config.json');
    ok(await asUser('init', '--dir', join(dir, 'pub-modes'), '--publisher'));
    ok(await asUser('init', '--dir', join(dir, 'fol-modes'), '--join', pub));
    ok(await asUser('-c', pub, 'publish', src));
    ok(await asUser('-c', fol, 'activate', '1', '--source-data', join(dir, 'pub-modes', 'data')));
    // Only the owner's bits differ from the recorded mode: 0055 would lock the node out of its own directory.
    const { lstat } = await import('node:fs/promises');
    expect((await lstat(join(dir, 'fol-modes', 'live', 'locked'))).mode & 0o7777).toBe(0o555);
    expect((await lstat(join(dir, 'fol-modes', 'live', 'others-only.txt'))).mode & 0o7777).toBe(0o444);
    ok(await asUser('-c', fol, 'verify', '--deep'));
    await writeFile(join(src, 'others-only.txt'), 'others, two\n');
    await settle();
    ok(await asUser('-c', pub, 'publish', src));
    // The live tree is checked before the switch: it can be listed and read.
    ok(await asUser('-c', fol, 'activate', '2', '--source-data', join(dir, 'pub-modes', 'data')));
    ok(await asUser('-c', fol, 'verify', '--deep'));
  });

  it('stages in a recycled tree: the names the new release lacks, and one root planted, are removed though the directories are read-only; a file changed at the same size is rewritten though it was read-only', async () => {
    const src = join(dir, 'src-recycle');
    await makeSampleTree(src);
    await chownTree(src);
    const pub = join(dir, 'pub-recycle', 'swarm.config.json');
    const fol = join(dir, 'fol-recycle', 'swarm.config.json');
    ok(await asUser('init', '--dir', join(dir, 'pub-recycle'), '--publisher'));
    ok(await asUser('init', '--dir', join(dir, 'fol-recycle'), '--join', pub));
    const cfg = JSON.parse(await readFile(fol, 'utf8')) as Record<string, unknown>;
    await writeFile(fol, JSON.stringify({ ...cfg, releases: { keep: 2 } }));
    const release = async (): Promise<{ staged: { recycledFrom: number | null } }> => {
      await settle();
      const v = (JSON.parse(ok(await asUser('-c', pub, 'publish', src, '--json')).stdout) as { version: number }).version;
      return JSON.parse(ok(await asUser('-c', fol, 'activate', String(v), '--source-data', join(dir, 'pub-recycle', 'data'), '--json')).stdout);
    };
    await release();
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 7\n');
    await release();
    // Release 1's tree (recycled for release 3): a name planted by root in a read-only directory,
    // and medium.bin, which release 3 no longer has.
    await writeFile(join(dir, 'fol-recycle', 'data', 'releases', '1', 'etc', 'planted.txt'), 'stray\n');
    await rm(join(src, 'data/medium.bin'));
    // Release 1's app.conf, of the same size, is its own inode there (0444): written in place.
    await writeFile(join(src, 'etc/app.conf'), 'listen 80\nworkers 9\n');
    const r = await release();
    expect(r.staged.recycledFrom).toBe(1);
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(join(dir, 'fol-recycle', 'live', 'etc'))).sort()).toEqual(['app.conf', 'deep']);
    expect(await readdir(join(dir, 'fol-recycle', 'live', 'data'))).not.toContain('medium.bin');
    expect(await readFile(join(dir, 'fol-recycle', 'live', 'etc', 'app.conf'), 'utf8')).toBe('listen 80\nworkers 9\n');
    ok(await asUser('-c', fol, 'verify', '--deep'));
  });

  it('serves: a follower running as the service user goes live, and takes rollback and unpin over its control socket', async () => {
    const base = join(dir, 'swarm');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(base);
    const c = await LocalCluster.create({ dir: base, followers: 1, runAs: (drop as { as: string[] }).as, extra: { verify: { intervalSec: 0 } } });
    try {
      await chownTree(base);
      const pub = c.publisher.config;
      const fol = c.followers[0]!;
      ok(await asUser('-c', pub, 'publish', join(dir, 'src')));
      for (const n of c.nodes) c.start(n);
      await c.waitLive([fol], 1);
      await writeFile(join(dir, 'src', 'etc/app.conf'), 'listen 80\nworkers 16\n');
      await chown(join(dir, 'src', 'etc/app.conf'), USER, USER);
      await settle();
      ok(await asUser('-c', pub, 'publish', join(dir, 'src')));
      await c.waitLive([fol], 2);
      const back = ok(await asUser('-c', fol.config, 'rollback'));
      expect(back.stderr).toMatch(/done by the running node/);
      expect(await readFile(join(fol.live, 'etc/app.conf'), 'utf8')).toBe('listen 80\nworkers 9\n');
      ok(await asUser('-c', fol.config, 'unpin'));
      await c.waitLive([fol], 2);
      ok(await asUser('-c', fol.config, 'verify', '--deep'));
      const st = JSON.parse(ok(await asUser('-c', fol.config, 'status', '--json')).stdout) as { running: boolean; lastError: unknown };
      expect(st).toMatchObject({ running: true, lastError: null });
    } finally {
      await c.close();
    }
  }, 120_000);
});
