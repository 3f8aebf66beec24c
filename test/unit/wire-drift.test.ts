import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { decodeMessage, encodeMessage } from '../../src/wire/index.js';
import { next, wirePair, type Pair } from './wire-fixtures.js';

const open: Pair[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await Promise.all([p.a.close(), p.b.close()]);
});

describe('drift record messages', () => {
  it('round-trip through the codec, and a request id that is no record id is malformed', () => {
    for (const m of [{ type: 'getDrift' as const, id: 7, record: '20261202T010000Z-3' }, { type: 'drift' as const, id: 9, bytes: new Uint8Array([1, 2, 3]) }]) {
      expect(decodeMessage(encodeMessage(m), 10)).toEqual(m);
    }
    const long = encodeMessage({ type: 'getDrift', id: 1, record: 'x'.repeat(65) });
    expect(() => decodeMessage(long, 10)).toThrowError(expect.objectContaining({ code: 'E_PROTOCOL' }));
    expect(() => decodeMessage(new Uint8Array([8, 0, 0]), 10)).toThrowError(expect.objectContaining({ code: 'E_PROTOCOL' }));
  });

  it('a request reaches the peer, which answers it by id', async () => {
    const p = await wirePair();
    open.push(p);
    p.modelB.on('drift-request', (id: number, record: string) => p.b.answerDrift(id, Buffer.from(`record ${record}`)));
    const got = await p.a.requestDrift('20261202T010000Z-3', 5000);
    expect(Buffer.from(got).toString()).toBe('record 20261202T010000Z-3');
  });

  it('times out when nobody answers, and fails with E_CLOSED when the connection ends', async () => {
    const clock = new ManualClock();
    const p = await wirePair({ clock });
    open.push(p);
    const asked = next<[number, string]>(p.modelB, 'drift-request');
    const late = p.a.requestDrift('', 1000);
    await asked;
    clock.advance(1001);
    await expect(late).rejects.toMatchObject({ code: 'E_TIMEOUT' });
    const cut = p.a.requestDrift('', 60_000);
    await p.b.close();
    await expect(cut).rejects.toMatchObject({ code: 'E_CLOSED' });
  });
});
