import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { RECORD_BUFFER_BYTES, recordBuffers } from '../../src/core/index.js';
import { recordPoolStats, TcpSecretStream } from '../../src/swarm/tcp-secret-stream.js';
import { tcpPair } from './wire-fixtures.js';

async function securePair(): Promise<[TcpSecretStream, TcpSecretStream]> {
  const [client, server] = await tcpPair();
  const a = new TcpSecretStream(true, client);
  const b = new TcpSecretStream(false, server);
  await Promise.all([a.opened, b.opened]);
  return [a, b];
}

/** Everything `b` receives until it has `bytes`, hashed; each record given back to the pool once hashed, as the stager does. */
function receive(b: TcpSecretStream, bytes: number, pauseFirstMs: number): Promise<string> {
  const hash = createHash('sha256');
  let got = 0;
  return new Promise((resolve, reject) => {
    b.on('error', reject);
    b.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      recordBuffers.giveBack(chunk);
      got += chunk.byteLength;
      if (got >= bytes) resolve(hash.digest('hex'));
    });
    // A reader that stalls makes the sender's socket queue fill: records wait there, in their pooled buffers.
    if (pauseFirstMs > 0) {
      b.pause();
      setTimeout(() => b.resume(), pauseFirstMs);
    }
  });
}

describe('TcpSecretStream: records in pooled buffers', () => {
  it('delivers every record intact, encrypted in place, while buffers go back to the pool and are lent again', async () => {
    const [a, b] = await securePair();
    const sizes = Array.from({ length: 48 }, (_, i) => 64 * 1024 + ((i * 92_821) % (1024 * 1024 - 64 * 1024)));
    const messages = sizes.map((n) => randomBytes(n));
    const small = randomBytes(200);
    const total = messages.reduce((s, m) => s + m.byteLength, 0) + 2 * small.byteLength * messages.length;
    const expected = createHash('sha256');
    const received = receive(b, total, 200);
    const before = recordPoolStats();
    let inPlace = 0;

    for (const [i, m] of messages.entries()) {
      const out = a.alloc(m.byteLength);
      out.set(m);
      // Between a record's alloc() and its turn to be written, other writes: a small record of
      // the library's own alloc() (what voided the in-place write before) and a plain one.
      const s = a.alloc(small.byteLength);
      s.set(small);
      const wrote = [a.write(out), a.write(s), a.write(small)];
      const ok = !wrote.includes(false);
      expected.update(m).update(small).update(small);
      // The first 16 (~9 MB, more than the kernel's socket buffers while the reader stalls) and
      // then every other record only let the event loop turn, so that the next record is lent
      // while this one still sits in the socket's queue; the others wait for the drain, as
      // StreamLink does.
      const wait = !ok && i >= 16 && i % 2 === 1;
      if (wait) await once(a, 'drain');
      else await new Promise((resolve) => setImmediate(resolve));
      if (wait && !out.equals(m)) inPlace++;
    }

    expect(await received).toBe(expected.digest('hex'));
    const after = recordPoolStats();
    expect(after.reused - before.reused).toBeGreaterThan(0);
    expect(after.created - before.created).toBeLessThan(messages.length);
    // A record written in place leaves ciphertext in the lent buffer; a copied one leaves it as it was.
    expect(inPlace).toBeGreaterThan(0);
    a.destroy();
    b.destroy();
  });

  it('gathers a large record that arrives in parts into a pooled buffer, and never writes over one not given back', async () => {
    const [a, b] = await securePair();
    const records = Array.from({ length: 24 }, (_, i) => randomBytes(100_000 + i * 37_000));
    const kept: Buffer[] = [];
    const sums: string[] = [];
    const before = recordPoolStats();
    const done = new Promise<void>((resolve, reject) => {
      b.on('error', reject);
      b.on('data', (chunk: Buffer) => {
        // Every other record is held on to, as a piece kept to be served is.
        if (kept.length <= sums.length - kept.length) kept.push(chunk);
        else recordBuffers.giveBack(chunk);
        sums.push(createHash('sha256').update(chunk).digest('hex'));
        if (sums.length === records.length) resolve();
      });
    });
    for (const r of records) a.write(r);
    await done;
    expect(sums).toEqual(records.map((r) => createHash('sha256').update(r).digest('hex')));
    // Each arrived in 64 KiB reads: gathered into a pooled buffer, and lent again once given back.
    const after = recordPoolStats();
    expect(after.created - before.created + after.reused - before.reused).toBeGreaterThanOrEqual(records.length);
    expect(after.reused - before.reused).toBeGreaterThan(0);
    for (const k of kept) {
      expect(recordBuffers.bufferOf(k)).toBeDefined();
      expect(sums).toContain(createHash('sha256').update(k).digest('hex'));
    }
    a.destroy();
    b.destroy();
  });

  it('builds a record whose size is at the edge of a pooled buffer\'s size in it whole', async () => {
    const [a, b] = await securePair();
    // Records (message + 20 bytes of framing) of exactly a buffer's size, and a few bytes either side.
    const lengths = [16, 17, 18, 19, 20].flatMap((k) => [-17, -4, 0, 1, 8, 16, 20].map((d) => 2 ** k + 4096 - 20 + d));
    const messages = lengths.filter((n) => n + 20 <= RECORD_BUFFER_BYTES).map((n) => randomBytes(n));
    const total = messages.reduce((n, m) => n + m.byteLength, 0);
    const received = receive(b, total, 0);
    for (const m of messages) {
      const out = a.alloc(m.byteLength);
      expect(recordBuffers.bufferOf(out)!.byteLength).toBeGreaterThanOrEqual(m.byteLength + 20);
      out.set(m);
      if (!a.write(out)) await once(a, 'drain');
    }
    expect(await received).toBe(messages.reduce((h, m) => h.update(m), createHash('sha256')).digest('hex'));
    a.destroy();
    b.destroy();
  });

  it('leaves records outside the pooled sizes to the library', async () => {
    const [a, b] = await securePair();
    const before = recordPoolStats();
    const tiny = a.alloc(1000);
    const huge = a.alloc(2 * 1024 * 1024);
    tiny.fill(1);
    huge.fill(2);
    const received = receive(b, tiny.byteLength + huge.byteLength, 0);
    const expected = createHash('sha256').update(Buffer.alloc(1000, 1)).update(Buffer.alloc(2 * 1024 * 1024, 2)).digest('hex');
    a.write(tiny);
    a.write(huge);
    expect(await received).toBe(expected);
    expect(recordPoolStats()).toEqual(before);
    a.destroy();
    b.destroy();
  });
});
