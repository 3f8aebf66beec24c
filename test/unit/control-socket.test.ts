/** The control socket's protocol over a real Unix socket: answers, progress notices, typed errors. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkswarmError } from '../../src/core/index.js';
import { callControl, controlSocketPath, ControlServer, type ControlRequest } from '../../src/admin/index.js';

let dir: string;
let server: ControlServer | null = null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-control-'));
});

afterEach(async () => {
  await server?.close();
  server = null;
  await rm(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<ChunkswarmError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ChunkswarmError);
  return err as ChunkswarmError;
}

describe('control socket', () => {
  it('answers a request, with its notices first and in order', async () => {
    const got: ControlRequest[] = [];
    server = await ControlServer.listen(dir, async (req, notify) => {
      got.push(req);
      for (const phase of ['scan', 'hash', 'sign']) notify({ phase });
      return { version: 7 };
    });
    const notices: unknown[] = [];
    const answer = await callControl(dir, { op: 'publish', source: '/srv/site', force: true }, { onNotice: (n) => notices.push(n) });
    expect(answer).toEqual({ version: 7 });
    expect(notices).toEqual([{ phase: 'scan' }, { phase: 'hash' }, { phase: 'sign' }]);
    expect(got).toEqual([{ op: 'publish', source: '/srv/site', force: true }]);
  });

  it('passes a failure on with its code and message', async () => {
    server = await ControlServer.listen(dir, async () => {
      throw new ChunkswarmError('E_NOT_FOUND', 'reading source directory /nope: /nope does not exist');
    });
    const err = await failure(callControl(dir, { op: 'publish', source: '/nope' }));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toMatch(/\/nope does not exist/);
  });

  it('says null when no node listens', async () => {
    expect(await callControl(dir, { op: 'status' })).toBeNull();
  });

  it('refuses a request it does not know, without running anything', async () => {
    let ran = false;
    server = await ControlServer.listen(dir, async () => (ran = true));
    const reply = await new Promise<string>((resolve) => {
      const sock = createConnection(controlSocketPath(dir));
      let buf = '';
      sock.on('data', (d) => (buf += d.toString()));
      sock.on('end', () => resolve(buf));
      sock.write(JSON.stringify({ op: 'publish', source: '' }) + '\n');
    });
    expect(JSON.parse(reply)).toMatchObject({ ok: false, code: 'E_USAGE' });
    expect(ran).toBe(false);
  });

  it('a peer that answers garbage is E_PROTOCOL', async () => {
    const fake = createServer((sock) => sock.resume().end('{"notice": 1}\nnot json\n'));
    await new Promise<void>((resolve) => fake.listen(controlSocketPath(dir), resolve));
    try {
      expect((await failure(callControl(dir, { op: 'status' }))).code).toBe('E_PROTOCOL');
    } finally {
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  it('a node that closes the connection before it answers (killed mid-publish) is E_CLOSED, not a malformed answer', async () => {
    // Progress notices, then the end: what a publish sees when its node dies halfway.
    const fake = createServer((sock) => sock.once('data', () => sock.end('{"notice": {"phase": "hash"}}\n')));
    await new Promise<void>((resolve) => fake.listen(controlSocketPath(dir), resolve));
    try {
      const notices: unknown[] = [];
      const err = await failure(callControl(dir, { op: 'publish', source: '/srv/site' }, { onNotice: (n) => notices.push(n) }));
      expect(err.code).toBe('E_CLOSED');
      expect(err.message).toBe(`the running node closed ${controlSocketPath(dir)} before it finished "publish": it stopped or died (see its log, and "chunkswarm status")`);
      expect(notices).toEqual([{ phase: 'hash' }]);
    } finally {
      await new Promise((resolve) => fake.close(resolve));
    }
  });
});
