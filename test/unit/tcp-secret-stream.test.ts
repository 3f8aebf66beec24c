import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { recordPoolStats, TcpSecretStream } from '../../src/swarm/tcp-secret-stream.js';
import { tcpPair } from './wire-fixtures.js';

async function securePair(): Promise<[TcpSecretStream, TcpSecretStream]> {
  const [client, server] = await tcpPair();
  const a = new TcpSecretStream(true, client);
  const b = new TcpSecretStream(false, server);
  await Promise.all([a.opened, b.opened]);
  return [a, b];
}

/** Everything `b` receives until it has `bytes`, hashed. */
function receive(b: TcpSecretStream, bytes: number, pauseFirstMs: number): Promise<string> {
  const hash = createHash('sha256');
  let got = 0;
  return new Promise((resolve, reject) => {
    b.on('error', reject);
    b.on('data', (chunk: Buffer) => {
      hash.update(chunk);
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
