import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { BootstrapWatch, RETRY_FIRST_MS, RETRY_MAX_MS, type RoutingTable } from '../../src/swarm/bootstrap-watch.js';
import type { BootstrapAddress } from '../../src/swarm/index.js';

/** hyperdht's ping: answered once the node is up (it resends each second), given up after 4 s. */
const PING_GIVES_UP_MS = 4000;

class FakeDht implements RoutingTable {
  readonly table = new Set<string>();
  readonly pings: Array<{ port: number; at: number }> = [];
  /** port → when it comes up (absent: never). */
  readonly upAt = new Map<number, number>();

  constructor(private readonly clock: ManualClock) {}

  ping(node: BootstrapAddress): Promise<unknown> {
    const sent = this.clock.now();
    this.pings.push({ port: node.port, at: sent });
    return new Promise((resolve, reject) => {
      const up = this.upAt.get(node.port);
      if (up !== undefined && up <= sent) return void this.clock.setTimeout(() => resolve(null), 1);
      if (up !== undefined && up < sent + PING_GIVES_UP_MS) return void this.clock.setTimeout(() => resolve(null), up - sent);
      this.clock.setTimeout(() => reject(new Error('REQUEST_TIMEOUT')), PING_GIVES_UP_MS);
    });
  }

  has(node: BootstrapAddress): boolean {
    return this.table.has(`${node.host}:${node.port}`);
  }

  add(node: BootstrapAddress): void {
    this.table.add(`${node.host}:${node.port}`);
  }
}

const node = (port: number): BootstrapAddress => ({ host: '127.0.0.1', port });

async function run(clock: ManualClock, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await new Promise((r) => setImmediate(r));
  }
}

function setup(nodes: number[]) {
  const clock = new ManualClock();
  const dht = new FakeDht(clock);
  const found: number[] = [];
  const watch = new BootstrapWatch(dht, nodes.map(node), { clock, found: (n) => found.push(n.port) });
  return { clock, dht, found, watch };
}

describe('BootstrapWatch', () => {
  it('starts as soon as a listed node answers, with the live ones in the table and the dead one left out', async () => {
    const { clock, dht, found, watch } = setup([4001, 4002, 4003]);
    dht.upAt.set(4001, 0).set(4003, 0);
    let started: boolean | null = null;
    void watch.start({ timeoutMs: 1000, graceMs: 150 }).then((answered) => { started = answered; });
    await run(clock, 100);
    expect(started).toBe(null);
    await run(clock, 100);
    expect(started).toBe(true);
    expect([...dht.table].sort()).toEqual(['127.0.0.1:4001', '127.0.0.1:4003']);
    expect(found.sort()).toEqual([4001, 4003]);
    watch.stop();
  });

  it('starts alone after the timeout when none answers, and takes in a node that comes up later', async () => {
    const { clock, dht, found, watch } = setup([4001, 4002]);
    dht.upAt.set(4001, 2500);
    let started: boolean | null = null;
    void watch.start({ timeoutMs: 1000 }).then((answered) => { started = answered; });
    await run(clock, 950);
    expect(started).toBe(null);
    await run(clock, 100);
    expect(started).toBe(false);
    expect(dht.table.size).toBe(0);
    await run(clock, 2000);
    expect(dht.has(node(4001))).toBe(true);
    expect(found).toEqual([4001]);
    expect(dht.has(node(4002))).toBe(false);
    watch.stop();
  });

  it('pings again a node that the DHT dropped from its table, and puts it back once it answers', async () => {
    const { clock, dht, found, watch } = setup([4001]);
    dht.upAt.set(4001, 0);
    await Promise.all([watch.start(), run(clock, 300)]);
    expect(found).toEqual([4001]);
    const before = dht.pings.length;
    await run(clock, 5000);
    expect(dht.pings.length).toBe(before); // in the table: left to the DHT's own checks
    dht.table.clear();
    await run(clock, 2 * RETRY_FIRST_MS + 100);
    expect(dht.has(node(4001))).toBe(true);
    expect(found).toEqual([4001, 4001]);
    watch.stop();
  });

  it('pings a node that never answers less and less often, down to one ping per RETRY_MAX_MS', async () => {
    const { clock, dht, watch } = setup([4009]);
    void watch.start();
    await run(clock, 120_000, 500);
    const gaps = dht.pings.slice(1).map((p, i) => p.at - dht.pings[i]!.at);
    expect(gaps.length).toBeGreaterThan(4);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]!);
    const longest = Math.max(...gaps);
    expect(longest).toBeGreaterThan(RETRY_MAX_MS);
    expect(longest).toBeLessThanOrEqual(RETRY_MAX_MS + PING_GIVES_UP_MS + RETRY_FIRST_MS);
    watch.stop();
  });

  it('sends nothing once stopped', async () => {
    const { clock, dht, watch } = setup([4009]);
    void watch.start();
    await run(clock, 100);
    watch.stop();
    const sent = dht.pings.length;
    await run(clock, 60_000, 1000);
    expect(dht.pings.length).toBe(sent);
  });
});
