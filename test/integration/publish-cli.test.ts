import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, stat, lstat, readlink, symlink, writeFile, chmod } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliJson } from '../support/cli.js';
import { makeSampleTree, settle } from '../support/tree.js';
import { ObjectStore } from '../../src/store/index.js';
import { walkTree, type FileObject } from '../../src/manifest/index.js';
import type { ObjectHash } from '../../src/core/index.js';
import type { PublishSummary } from '../../src/index.js';

let dir: string;
let src: string;
let cfg: string;

/** path -> chunk hashes of every file in a release, read from the object store. */
async function chunksByPath(root: ObjectHash): Promise<Map<string, string[]>> {
  const objects = new ObjectStore(join(dir, 'pub', 'data', 'objects'));
  const out = new Map<string, string[]>();
  await walkTree(root, (h) => objects.getTree(h), async (path, e) => {
    if (e.type === 'file') out.set(path, ((await objects.get(e.hash!)) as FileObject).chunks.map((c) => c.hash));
  });
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-publish-'));
  src = join(dir, 'src');
  await makeSampleTree(src);
  execFileSync('mkfifo', [join(src, 'a-fifo')]);
  const init = await runCli(['init', '--dir', join(dir, 'pub'), '--publisher']);
  expect(init.code, init.stderr).toBe(0);
  cfg = join(dir, 'pub', 'swarm.config.json');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true, maxRetries: 2 }).catch(() => undefined);
});

describe('chunkswarm publish', () => {
  let first: PublishSummary;

  it('publishes a tree with nested dirs, a symlink, a hard link, an empty file and an executable', async () => {
    const r = await runCli(['-c', cfg, 'publish', src, '--note', 'first', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/skipped fifo a-fifo/);
    first = JSON.parse(r.stdout) as PublishSummary;
    expect(first.version).toBe(1);
    expect(first.files).toBe(7);
    expect(first.skipped).toEqual([{ path: 'a-fifo', kind: 'fifo' }]);

    const rel = join(dir, 'pub', 'data', 'releases', '1');
    for (const p of ['etc/app.conf', 'etc/deep/nested/dir/value.txt', 'bin/run.sh', 'data/big.bin', 'data/medium.bin', 'empty']) {
      expect((await readFile(join(rel, p))).equals(await readFile(join(src, p))), p).toBe(true);
    }
    expect((await stat(join(rel, 'bin/run.sh'))).mode & 0o777).toBe(0o500);
    expect((await stat(join(rel, 'etc/app.conf'))).mode & 0o777).toBe(0o444);
    expect(await readlink(join(rel, 'bin/conf-link'))).toBe('../etc/app.conf');
    expect((await lstat(join(rel, 'bin/conf-link'))).isSymbolicLink()).toBe(true);
    expect((await stat(join(rel, 'data/big-hardlink.bin'))).ino).toBe((await stat(join(rel, 'data/big.bin'))).ino);
    expect((await stat(join(rel, 'empty'))).size).toBe(0);
    expect(Math.abs((await stat(join(rel, 'data/big.bin'))).mtimeMs - (await stat(join(src, 'data/big.bin'))).mtimeMs)).toBeLessThan(1);
  });

  it('re-publishing an unchanged tree reads no file and makes no release', async () => {
    const s = await runCliJson<PublishSummary>(['-c', cfg, 'publish', src]);
    expect(s.version).toBeNull();
    expect(s.hashedFiles).toBe(0);
    expect(s.hashedBytes).toBe(0);
  });

  it('after an edit, only the changed file has new chunks and unchanged files are hard-linked', async () => {
    const medium = join(src, 'data/medium.bin');
    const bytes = await readFile(medium);
    bytes.write('EDITED IN THE MIDDLE', 100 * 1024);
    await writeFile(medium, bytes);
    await settle();

    const second = await runCliJson<PublishSummary>(['-c', cfg, 'publish', src]);
    expect(second.version).toBe(2);
    expect(second.hashedFiles).toBe(1);

    const before = await chunksByPath(first.root as ObjectHash);
    const after = await chunksByPath(second.root as ObjectHash);
    const old = new Set([...before.values()].flat());
    const fresh = new Set<string>();
    for (const [path, chunks] of after) {
      for (const c of chunks) {
        if (old.has(c)) continue;
        expect(path).toBe('data/medium.bin');
        fresh.add(c);
      }
    }
    expect(fresh.size).toBeGreaterThan(0);
    expect(second.newChunks).toBe(fresh.size);

    const r1 = join(dir, 'pub', 'data', 'releases', '1');
    const r2 = join(dir, 'pub', 'data', 'releases', '2');
    for (const p of ['etc/app.conf', 'bin/run.sh', 'data/big.bin', 'data/big-hardlink.bin', 'empty']) {
      expect((await stat(join(r2, p))).ino, p).toBe((await stat(join(r1, p))).ino);
    }
    expect((await stat(join(r2, 'data/medium.bin'))).ino).not.toBe((await stat(join(r1, 'data/medium.bin'))).ino);
    expect((await readFile(join(r2, 'data/medium.bin'))).equals(bytes)).toBe(true);
  });

  it('diff and show describe the releases', async () => {
    const d = await runCliJson<Array<{ path: string; change: string }>>(['-c', cfg, 'diff', '1', '2']);
    expect(d.map((c) => [c.change, c.path])).toEqual([['modified', 'data/medium.bin']]);
    const s = await runCliJson<{ version: number; files: number; note: string; chunks: number; pieces: number; pieceBytes: number }>(['-c', cfg, 'show', '1']);
    expect(s).toMatchObject({ version: 1, files: 7, note: 'first' });
    // The distinct chunks, counted from the objects, and the fewer pieces (runs of them) they travel in.
    const first = await runCliJson<{ root: ObjectHash }>(['-c', cfg, 'show', '1']);
    const distinct = new Set([...(await chunksByPath(first.root)).values()].flat());
    expect(s.chunks).toBe(distinct.size);
    expect(s.pieces).toBeGreaterThan(0);
    expect(s.pieces).toBeLessThan(s.chunks);
    const human = await runCli(['-c', cfg, 'show', '1']);
    expect(human.stdout).toMatch(new RegExp(`chunks: +${s.chunks} distinct, .*, in ${s.pieces} pieces`));
  });

  it('refuses a private key file readable by others, naming the file', async () => {
    const key = join(dir, 'pub', 'publisher.key');
    await chmod(key, 0o644);
    try {
      const r = await runCli(['-c', cfg, 'publish', src, '--force']);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('E_KEY');
      expect(r.stderr).toContain(key);
    } finally {
      await chmod(key, 0o600);
    }
  });

  it('names the bad field of an invalid config', async () => {
    const bad = join(dir, 'bad.config.json');
    const good = JSON.parse(await readFile(cfg, 'utf8')) as Record<string, unknown>;
    await writeFile(bad, JSON.stringify({ ...good, limits: { maxPeers: -1 } }));
    const r = await runCli(['-c', bad, 'show']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/E_CONFIG.*limits\.maxPeers/);
  });

  it("refuses a source that holds the node's own data directory or key files, before reading it", async () => {
    const before = JSON.parse((await runCli(['-c', cfg, 'show', '--json'])).stdout) as { version: number };
    // `dir` holds pub/: the publisher's data directory, publisher.key and cluster.secret.
    const r = await runCli(['-c', cfg, 'publish', dir, '--local']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`E_USAGE: the source ${dir} holds this node's data directory (${join(dir, 'pub', 'data')}): publishing it would send it to every node`);
    // The key files alone, in a source of their own, are refused too.
    const keys = join(dir, 'keys-src');
    await mkdir(keys);
    const other = join(dir, 'other.config.json');
    const good = JSON.parse(await readFile(cfg, 'utf8')) as { publisher: Record<string, unknown> };
    await writeFile(other, JSON.stringify({ ...good, dataDir: './pub/data', publisher: { ...good.publisher, privateKeyFile: 'keys-src/publisher.key' } }));
    await writeFile(join(keys, 'publisher.key'), await readFile(join(dir, 'pub', 'publisher.key')), { mode: 0o600 });
    const k = await runCli(['-c', other, 'publish', keys, '--local']);
    expect(k.code).toBe(2);
    expect(k.stderr).toContain(`holds this node's publisher key (${join(keys, 'publisher.key')})`);
    expect((JSON.parse((await runCli(['-c', cfg, 'show', '--json'])).stdout) as { version: number }).version).toBe(before.version);
  });

  it('runs one publish at a time: a second is refused naming the first, a dead one\'s lock is taken over', async () => {
    const lock = join(dir, 'pub', 'data', 'publish.lock');
    const before = JSON.parse((await runCli(['-c', cfg, 'show', '--json'])).stdout) as { version: number };
    // A live holder: this test's own process.
    await writeFile(lock, JSON.stringify({ pid: process.pid, started: null, command: 'publish', since: '2026-12-06T00:00:00.000Z' }));
    const r = await runCli(['-c', cfg, 'publish', src, '--local', '--force']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`E_LOCKED: ${join(dir, 'pub', 'data')} is in use by chunkswarm publish (pid ${process.pid}, since 2026-12-06T00:00:00.000Z); one publish at a time`);
    // A republish takes the next version too: it waits its turn the same way.
    const again = await runCli(['-c', cfg, 'republish', '1']);
    expect(again.stderr).toContain('one publish at a time');
    // A holder that died (a pid no process has) leaves a stale lock: the next publish takes it over.
    await writeFile(lock, JSON.stringify({ pid: 2 ** 22 + 12345, started: null, command: 'publish', since: '2026-12-06T00:00:00.000Z' }));
    const ok2 = await runCliJson<{ version: number }>(['-c', cfg, 'publish', src, '--local', '--force']);
    expect(ok2.version).toBe(before.version + 1);
    await expect(stat(lock)).rejects.toThrow();
  });

  it('publishes through a symlink to the source (the root is followed, nothing below it)', async () => {
    const link = join(dir, 'current');
    await symlink(src, link);
    const r = await runCliJson<{ version: number | null; files: number }>(['-c', cfg, 'publish', link, '--local']);
    // The same tree as the newest release: nothing to publish.
    expect(r.version).toBeNull();
    expect(r.files).toBeGreaterThan(3);
  });

  it('refuses a file whose name is not UTF-8, naming its bytes, and makes no release', async () => {
    const latin1 = join(dir, 'src-latin1');
    await mkdir(join(latin1, 'uploads'), { recursive: true });
    await writeFile(join(latin1, 'index.php'), '<?php echo 1;\n');
    // "café.txt" as Latin-1 wrote it: 0xe9 alone is not UTF-8.
    await writeFile(Buffer.concat([Buffer.from(`${join(latin1, 'uploads')}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]), 'x');
    const before = JSON.parse((await runCli(['-c', cfg, 'show', '--json'])).stdout) as { version: number };
    const r = await runCli(['-c', cfg, 'publish', latin1, '--local']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`E_UNSAFE_PATH: the name of uploads/caf\\xe9.txt (in ${join(latin1, 'uploads')}) is not valid UTF-8`);
    expect((JSON.parse((await runCli(['-c', cfg, 'show', '--json'])).stdout) as { version: number }).version).toBe(before.version);
  });

  it('refuses a tree that lost half its files or more (an empty mount point) unless --allow-shrink', async () => {
    const before = JSON.parse((await runCli(['-c', cfg, 'show', '--json'])).stdout) as { version: number; files: number };
    const empty = join(dir, 'not-mounted');
    await mkdir(empty);
    const r = await runCli(['-c', cfg, 'publish', empty, '--local']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`E_USAGE: the source ${empty} holds 0 files and release ${before.version} ${before.files}: publishing it would remove ${before.files} files from every node`);
    expect((JSON.parse((await runCli(['-c', cfg, 'show', '--json'])).stdout) as { version: number }).version).toBe(before.version);
    const ok2 = await runCliJson<{ version: number; files: number }>(['-c', cfg, 'publish', empty, '--local', '--allow-shrink']);
    expect(ok2).toMatchObject({ version: before.version + 1, files: 0 });
  });
});
