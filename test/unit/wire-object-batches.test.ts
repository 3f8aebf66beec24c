/**
 * ObjectClient's batches against a hand-fed peer: the requests of one turn go out as getObjects
 * messages, each answer is checked item by item, what an answer could not hold is asked again,
 * and an object too large for any answer is asked alone, in parts.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, asObjectHash, isChunkswarmError, type ObjectHash } from '../../src/core/index.js';
import { hashBytes } from '../../src/manifest/index.js';
import type { ExtMessage } from '../../src/wire/index.js';
import { MAX_BATCH_OBJECTS } from '../../src/wire/messages.js';
import { ObjectClient } from '../../src/wire/object-client.js';

function objectsOf(n: number): Array<{ hash: ObjectHash; bytes: Uint8Array }> {
  return Array.from({ length: n }, (_, i) => {
    const bytes = new TextEncoder().encode(`object ${i}`);
    return { hash: asObjectHash(hashBytes(bytes)), bytes };
  });
}

function client(batching = true) {
  const sent: ExtMessage[] = [];
  const bad: string[] = [];
  const c = new ObjectClient(new ManualClock(), (m) => sent.push(m), (why) => bad.push(why));
  c.batching = batching;
  return { c, sent, bad };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('object requests in batches', () => {
  it('sends the requests of one turn as getObjects of at most MAX_BATCH_OBJECTS, and asks again what an answer left out', async () => {
    const { c, sent } = client();
    const objs = objectsOf(MAX_BATCH_OBJECTS + 44);
    const answers = objs.map((o) => c.request(o.hash, 1000));
    await turn();
    expect(sent.map((m) => (m.type === 'getObjects' ? m.hashes.length : m.type))).toEqual([MAX_BATCH_OBJECTS, 44]);
    const [first, second] = sent as Array<Extract<ExtMessage, { type: 'getObjects' }>>;
    expect(first!.hashes).toEqual(objs.slice(0, MAX_BATCH_OBJECTS).map((o) => o.hash));
    // The first answer held 100 objects: the other 156 are asked again, in one message.
    c.onObjects(first!.id, objs.slice(0, 100).map((o) => o.bytes));
    c.onObjects(second!.id, objs.slice(MAX_BATCH_OBJECTS).map((o) => o.bytes));
    await turn();
    const again = sent[2] as Extract<ExtMessage, { type: 'getObjects' }>;
    expect(again.hashes).toEqual(objs.slice(100, MAX_BATCH_OBJECTS).map((o) => o.hash));
    c.onObjects(again.id, objs.slice(100, MAX_BATCH_OBJECTS).map((o) => o.bytes));
    const got = await Promise.all(answers);
    expect(got.map((b) => Buffer.from(b).toString())).toEqual(objs.map((o) => Buffer.from(o.bytes).toString()));
    expect(sent).toHaveLength(3);
  });

  it('rejects a missing object with E_NOT_FOUND and a wrong one with E_HASH_MISMATCH, naming the peer bad', async () => {
    const { c, sent, bad } = client();
    const [a, b, d] = objectsOf(3);
    const answers = [a!, b!, d!].map((o) => c.request(o.hash, 1000).then(() => 'ok', (e: unknown) => (isChunkswarmError(e) ? e.code : 'other')));
    await turn();
    const m = sent[0] as Extract<ExtMessage, { type: 'getObjects' }>;
    c.onObjects(m.id, [a!.bytes, null, a!.bytes]);
    expect(await Promise.all(answers)).toEqual(['ok', 'E_NOT_FOUND', 'E_HASH_MISMATCH']);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toContain(d!.hash);
  });

  it('asks alone, in parts, for an object that no answer could hold', async () => {
    const { c, sent } = client();
    const big = new Uint8Array(3000).map((_, i) => i & 0xff);
    const hash = asObjectHash(hashBytes(big));
    const answer = c.request(hash, 1000);
    await turn();
    c.onObjects((sent[0] as Extract<ExtMessage, { type: 'getObjects' }>).id, []);
    const part1 = sent[1] as Extract<ExtMessage, { type: 'getObject' }>;
    expect(part1).toMatchObject({ type: 'getObject', hash, offset: 0 });
    c.onObject(part1.id, big.length, 0, big.subarray(0, 2000));
    await turn();
    const part2 = sent[2] as Extract<ExtMessage, { type: 'getObject' }>;
    expect(part2).toMatchObject({ type: 'getObject', hash, offset: 2000 });
    c.onObject(part2.id, big.length, 2000, big.subarray(2000));
    expect(Buffer.from(await answer).equals(Buffer.from(big))).toBe(true);
  });

  it('keeps to one getObject per object, at most 48 under way, with a peer that does not take batches', async () => {
    const { c, sent } = client(false);
    const objs = objectsOf(50);
    const answers = objs.map((o) => c.request(o.hash, 1000));
    await turn();
    // An older node counts requests past its limit (64 by default) as abuse.
    expect(sent.map((m) => m.type)).toEqual(Array(48).fill('getObject'));
    for (let i = 0; i < sent.length; i++) {
      const m = sent[i] as Extract<ExtMessage, { type: 'getObject' }>;
      const o = objs.find((x) => x.hash === m.hash)!;
      c.onObject(m.id, o.bytes.length, 0, o.bytes);
      await turn();
    }
    expect(sent).toHaveLength(50);
    expect((await Promise.all(answers)).length).toBe(50);
  });

  it('times out each request on its own clock, and ignores an answer that comes after', async () => {
    const clock = new ManualClock();
    const sent: ExtMessage[] = [];
    const c = new ObjectClient(clock, (m) => sent.push(m), () => undefined);
    c.batching = true;
    const [o] = objectsOf(1);
    const answer = c.request(o!.hash, 500).catch((e: unknown) => e);
    clock.advance(500);
    expect(isChunkswarmError(await answer, 'E_TIMEOUT')).toBe(true);
    await turn();
    // Timed out before the turn ended: nothing was asked for it.
    expect(sent).toHaveLength(0);
  });
});
