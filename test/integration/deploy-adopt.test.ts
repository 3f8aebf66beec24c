import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, cp, lstat, mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { listing } from '../support/tree.js';
import { cs, csJson, editConfig, ok, publishedCluster, type Cluster } from './deploy-fixture.js';
import type { DeployResult, DriftReport } from '../../src/index.js';

/**
 * A frontend that rsync kept up to date until now: livePath is a real directory (or the symlink
 * trick's link to one). The first release takes its place only when the config says so, and
 * nothing of what stood there is lost.
 */
let dir: string;
let src: string;
let c: Cluster;

beforeAll(async () => {
  ({ dir, src, c } = await publishedCluster('cs-deploy-adopt-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const drifts = (config: string) => csJson<Array<Omit<DriftReport, 'entries'>>>(config, 'drift', 'list');

describe('a livePath that chunkswarm did not make', () => {
  it('is refused without adoptLive, naming the setting, and left as it was', async () => {
    await cp(src, c.folLive, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    const before = await listing(c.folLive);
    const r = await cs(c.fol, 'activate', '1', '--source-data', c.pubData);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_USAGE: livePath .*fol\/live is a real directory.*"adoptLive": true/);
    expect((await lstat(c.folLive)).isDirectory()).toBe(true);
    expect(await listing(c.folLive)).toEqual(before);
  });

  it('with adoptLive, a real directory is moved aside whole and what differs from the release is recorded as drift', async () => {
    await writeFile(join(c.folLive, 'etc/app.conf'), 'listen 8080\nworkers 4\n');
    await writeFile(join(c.folLive, 'stray.txt'), 'left by rsync without --delete\n');
    await chmod(join(c.folLive, 'bin/run.sh'), 0o755);
    await rm(join(c.folLive, 'empty'));
    // An earlier adoption's directory is never overwritten.
    await mkdir(`${c.folLive}.pre-chunkswarm`);
    const before = await listing(c.folLive);
    await editConfig(c.fol, (cfg) => {
      cfg.adoptLive = true;
    });

    const r = await csJson<DeployResult>(c.fol, 'activate', '1', '--source-data', c.pubData);
    const aside = `${c.folLive}.pre-chunkswarm-2`;
    expect(r.switched).toBe(true);
    expect(r.adopted).toEqual({ what: 'a real directory', keptAt: aside });
    expect(await readlink(c.folLive)).toBe(join(c.folData, 'releases', '1'));
    expect(await listing(aside)).toEqual(before);
    expect(await readFile(join(c.folLive, 'etc/app.conf'), 'utf8')).toBe('listen 80\nworkers 4\n');

    const [record] = await drifts(c.fol);
    expect(record).toMatchObject({ version: 1, replacedBy: 1, adopted: { what: 'a real directory', keptAt: aside } });
    expect(record!.counts).toEqual({ added: 1, removed: 1, modified: 1, meta: 1, type: 0 });
    expect(record!.preserved.sort()).toEqual(['etc/app.conf', 'stray.txt']);
    expect(await readFile(join(c.folData, 'drift', record!.id, 'etc/app.conf'), 'utf8')).toBe('listen 8080\nworkers 4\n');
    const shown = ok(await cs(c.fol, 'drift', 'show', record!.id)).stdout;
    expect(shown).toContain(`kept at ${aside}`);
    expect(shown).toMatch(/^P bin\/run\.sh .*mode 0700\|0755/m);
  });

  it("with adoptLive, a symlink to another tree is replaced and its tree left alone; an identical tree records no drift", async () => {
    // Another follower of the same cluster, whose livePath is the symlink trick's link.
    const fol2 = join(dir, 'fol2', 'swarm.config.json');
    const live2 = join(dir, 'fol2', 'live');
    ok(await runCli(['init', '--dir', join(dir, 'fol2'), '--join', c.pub]));
    const old = join(dir, 'fol2', 'cgi1');
    await cp(src, old, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    await symlink('cgi1', live2);
    await editConfig(fol2, (cfg) => {
      cfg.adoptLive = true;
    });
    const before = await listing(old);
    const r = await csJson<DeployResult>(fol2, 'activate', '1', '--source-data', c.pubData);
    expect(r.adopted).toEqual({ what: expect.stringMatching(/^a symlink to .*cgi1/), keptAt: old });
    expect(r.drift).toBeNull();
    expect(await readlink(live2)).toBe(join(dir, 'fol2', 'data', 'releases', '1'));
    expect(await listing(old)).toEqual(before);
    expect(await drifts(fol2)).toEqual([]);
  });

  it("is never another node's release, whatever adoptLive says: two nodes would take one livePath from each other", async () => {
    const fol3 = join(dir, 'fol3', 'swarm.config.json');
    ok(await runCli(['init', '--dir', join(dir, 'fol3'), '--join', c.pub]));
    await symlink(join(c.pubData, 'releases', '1'), join(dir, 'fol3', 'live'));
    await editConfig(fol3, (cfg) => {
      cfg.adoptLive = true;
    });
    const r = await cs(fol3, 'activate', '1', '--source-data', c.pubData);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a symlink to release 1 of another node's data directory .*pub\/data.*give each its own/);
    expect(await readlink(join(dir, 'fol3', 'live'))).toBe(join(c.pubData, 'releases', '1'));
  });
});

describe('init and join with --live on a path that exists', () => {
  it('refuse it without --adopt before writing anything, and write adoptLive with it', async () => {
    const existing = join(dir, 'www');
    await mkdir(existing);
    const refused = await runCli(['init', '--dir', join(dir, 'n1'), '--join', c.pub, '--live', existing]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--live .*www exists \(a directory\).*add --adopt/);
    await expect(lstat(join(dir, 'n1'))).rejects.toThrow(/ENOENT/);

    ok(await runCli(['init', '--dir', join(dir, 'n1'), '--join', c.pub, '--live', existing, '--adopt']));
    expect(JSON.parse(await readFile(join(dir, 'n1', 'swarm.config.json'), 'utf8'))).toMatchObject({ livePath: existing, adoptLive: true });

    await writeFile(join(dir, 'a-file'), '');
    const file = await runCli(['init', '--dir', join(dir, 'n2'), '--join', c.pub, '--live', join(dir, 'a-file'), '--adopt']);
    expect(file.code).toBe(2);
    expect(file.stderr).toMatch(/is a real file/);

    await symlink(join(c.pubData, 'releases', '1'), join(dir, 'shared-live'));
    const shared = await runCli(['init', '--dir', join(dir, 'n3'), '--join', c.pub, '--live', join(dir, 'shared-live'), '--adopt']);
    expect(shared.code).toBe(2);
    expect(shared.stderr).toMatch(/release 1 of another node's data directory .*each node needs a livePath of its own/);
  });
});
