/**
 * The query (`verify`, `status`) the CLI sends the running node before it loads the rest of it:
 * sent only for a command commander reads the same way, to the node of the config's data
 * directory, and its answer used only when the command, its config validated, asks the same.
 * The node is stood in for by the real control server with a handler that records what it is
 * asked; the CLI runs as a real process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ControlServer, controlSocketPath, type ControlRequest } from '../../src/admin/index.js';
import { loadConfig } from '../../src/config/index.js';
import { EarlyQuery } from '../../src/cli/early-query.js';
import type { VerifyResult } from '../../src/index.js';
import { runCli } from '../support/cli.js';

let dir: string;
let config: string;
let dataDir: string;
let server: ControlServer | null = null;
let asked: ControlRequest[] = [];

const drifted: VerifyResult = {
  version: 3, dir: '/srv/releases/3', deep: false, checked: 12, hashed: 0,
  counts: { added: 1, removed: 0, modified: 0, type: 0, meta: 0 },
  entries: [{ kind: 'added', path: 'stray.txt' } as VerifyResult['entries'][number]],
};

/** A node on dataDir that answers every request with `answer` after `delayMs`. */
async function standIn(answer: unknown, delayMs = 0): Promise<void> {
  server = await ControlServer.listen(dataDir, async (req) => {
    asked.push(req);
    await new Promise((r) => setTimeout(r, delayMs));
    return answer;
  });
}

const argv = (...args: string[]) => ['node', 'chunkswarm', ...args];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-early-'));
  const init = await runCli(['init', '--publisher', '--dir', dir, '--host', '127.0.0.1']);
  expect(init.code, init.stderr).toBe(0);
  config = join(dir, 'swarm.config.json');
  dataDir = (await loadConfig(config)).dataDir;
});

afterEach(async () => {
  await server?.close();
  server = null;
  asked = [];
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('early query', () => {
  it('is sent at once, and its answer is given only for the same request to the same node', async () => {
    await standIn(drifted);
    const early = EarlyQuery.send(argv('-c', config, 'verify', '--json'), {});
    expect(early).not.toBeNull();
    expect(early!.take(dataDir, { op: 'verify', deep: true })).toBeUndefined();
    expect(early!.take(join(dir, 'elsewhere'), { op: 'verify' })).toBeUndefined();
    expect(await early!.take(dataDir, { op: 'verify' })).toEqual(drifted);
    expect(asked).toEqual([{ op: 'verify' }]);
  });

  it('finds the data directory as the config does: CHUNKSWARM_CONFIG, relative to the config file', async () => {
    await standIn({ phase: 'seeding' });
    const sub = join(dir, 'sub');
    await mkdir(sub, { recursive: true });
    const other = join(sub, 'swarm.config.json');
    // The same data directory, named from another place.
    await writeFile(other, JSON.stringify({ dataDir: join('..', 'data') }));
    expect(dataDir).toBe(join(dir, 'data'));
    const early = EarlyQuery.send(argv('status'), { CHUNKSWARM_CONFIG: other });
    expect(await early!.take(dataDir, { op: 'status' })).toEqual({ phase: 'seeding' });
    expect(asked).toEqual([{ op: 'status' }]);
  });

  it('is not sent for anything but a plain query, nor from a config it cannot read', async () => {
    await standIn(drifted);
    const notJson = join(dir, 'broken.json');
    await writeFile(notJson, '{ "dataDir": ');
    const numeric = join(dir, 'numeric.json');
    await writeFile(numeric, JSON.stringify({ dataDir: 7 }));
    for (const args of [
      ['-c', config, 'publish', dir, '--local'],
      ['-c', config, 'publish', dir, '--bogus'],
      ['-c', config, 'publish'],
      ['-c', config, 'publish', dir, 'extra'],
      ['-c', config, 'activate', '2'],
      ['-c', config, 'verify', 'extra'],
      ['-c', config, 'verify', '--bogus'],
      ['-c', config, 'status', '--deep'],
      ['-c', config, 'verify', '--help'],
      ['-c', config],
      ['-c', notJson, 'verify'],
      ['-c', numeric, 'verify'],
      ['-c', join(dir, 'missing.json'), 'status'],
    ]) expect(EarlyQuery.send(argv(...args), {}), args.join(' ')).toBeNull();
    await new Promise((r) => setTimeout(r, 50));
    expect(asked).toEqual([]);
  });

  it('for publish, asks the node to scan the source, and gives the scan\'s id only for a publish of that source by that node', async () => {
    await standIn({ files: 3 });
    const early = EarlyQuery.send(argv('-c', config, 'publish', 'tree', '--note', 'a note', '--json'), {});
    expect(early).not.toBeNull();
    for (let i = 0; i < 40 && asked.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(asked).toEqual([{ op: 'prescan', source: resolve('tree'), id: expect.stringMatching(/^[0-9a-f]{24}$/) }]);
    const { id } = asked[0] as { id: string };
    expect(early!.prescanOf(dataDir, resolve('tree'))).toBe(id);
    expect(early!.prescanOf(dataDir, resolve('other'))).toBeUndefined();
    expect(early!.prescanOf(join(dir, 'elsewhere'), resolve('tree'))).toBeUndefined();
    expect(early!.take(dataDir, asked[0]!)).toBeDefined();
    // Each command's own: another publish is another scan.
    expect(EarlyQuery.send(argv('-c', config, 'publish', 'tree'), {})!.prescanOf(dataDir, resolve('tree'))).not.toBe(id);
  });

  it('for publish, is not sent where no node runs, nor to a node of another user (the command publishes itself then)', async () => {
    expect(EarlyQuery.send(argv('-c', config, 'publish', 'tree'), {})).toBeNull();
    await standIn({ files: 3 });
    await chown(controlSocketPath(dataDir), 65534, 65534);
    expect(EarlyQuery.send(argv('-c', config, 'publish', 'tree'), {})).toBeNull();
    expect(EarlyQuery.send(argv('-c', config, 'status'), {})).not.toBeNull();
  });

  it('abandoned, closes its connection and answers null', async () => {
    await standIn(drifted, 5_000);
    const early = EarlyQuery.send(argv('-c', config, 'verify'), {})!;
    early.abandon();
    expect(await early.take(dataDir, { op: 'verify' })).toBeNull();
  });
});

describe('chunkswarm publish with a node running', () => {
  const summary = { version: null, files: 0, seconds: 0, skipped: [], warnings: [] };

  it('names the scan it asked for as it started in the publish it sends', async () => {
    await standIn(summary);
    const r = await runCli(['-c', config, 'publish', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(asked).toEqual([
      { op: 'prescan', source: dir, id: expect.any(String) },
      { op: 'publish', source: dir, note: '', force: false, allowShrink: false, prescan: (asked[0] as { id: string }).id },
    ]);
  });

  it('refused for its config, publishes nothing, though it asked for the scan', async () => {
    await standIn(summary);
    const invalid = join(dir, 'invalid-publish.json');
    await writeFile(invalid, JSON.stringify({ ...JSON.parse(await readFile(config, 'utf8')), releases: { keep: 'many' } }));
    const r = await runCli(['-c', invalid, 'publish', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/releases\.keep/);
    for (let i = 0; i < 40 && asked.length === 0; i++) await new Promise((res) => setTimeout(res, 50));
    expect(asked.map((a) => a.op)).toEqual(['prescan']);
  });
});

describe('chunkswarm verify with a node running', () => {
  it('prints the answer to the query it sent early and asks no second time', async () => {
    await standIn(drifted, 200);
    const r = await runCli(['-c', config, 'verify', '--json']);
    expect(JSON.parse(r.stdout)).toEqual(drifted);
    expect(r.code).toBe(1);
    expect(asked).toEqual([{ op: 'verify' }]);
  });

  it('sends the query before it validates the config, and still refuses one that fails, whatever the node answered', async () => {
    await standIn(drifted);
    const invalid = join(dir, 'invalid.json');
    await writeFile(invalid, JSON.stringify({ ...JSON.parse(await readFile(config, 'utf8')), livePath: 7 }));
    const r = await runCli(['-c', invalid, 'verify', '--json']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/livePath/);
    expect(r.stdout).toBe('');
    // Sent before the config was read through its schema: the node was asked all the same.
    for (let i = 0; i < 40 && asked.length === 0; i++) await new Promise((res) => setTimeout(res, 50));
    expect(asked).toEqual([{ op: 'verify' }]);
  });
});
