/**
 * Which listed bootstrap nodes a node's DHT starts from. A cluster restarted at once has nodes
 * whose bootstrap nodes are not up yet when they start: a DHT bootstrapped from dead nodes alone
 * stayed apart from the swarm for 7-14 s after they came up. The probe waits for one to answer.
 */
import { describe, expect, it } from 'vitest';
import { answeringBootstrapNodes } from '../../src/swarm/bootstrap.js';
import { startBootstrapNode } from '../../src/swarm/index.js';
import { freeUdpPort } from '../../src/swarm/node-ports.js';

const host = '127.0.0.1';

describe('answeringBootstrapNodes', () => {
  it('waits for a listed node that comes up after the start, and leaves out the one still down', async () => {
    const late = { host, port: await freeUdpPort(host) };
    const dead = { host, port: await freeUdpPort(host) };
    const probing = answeringBootstrapNodes([dead, late], host, { waitMs: 10_000 });
    // Later than the one second that the probe used to give the list before it took every node.
    await new Promise((r) => setTimeout(r, 1500));
    const node = await startBootstrapNode({ host, port: late.port });
    try {
      expect(await probing).toEqual([late]);
    } finally {
      await node.close();
    }
  }, 20_000);

  it('takes the whole list when no node answers in time (they may come up later)', async () => {
    const a = { host, port: await freeUdpPort(host) };
    const b = { host, port: await freeUdpPort(host) };
    expect(await answeringBootstrapNodes([a, b], host, { waitMs: 600 })).toEqual([a, b]);
  });

  it('answers once every node has, without the wait or the grace after the first answer', async () => {
    const node = await startBootstrapNode({ host });
    try {
      // A minute of each: the test's own 20 s would end first if either were waited out.
      expect(await answeringBootstrapNodes([{ host, port: node.port }], host, { waitMs: 60_000, graceMs: 60_000 })).toEqual([{ host, port: node.port }]);
    } finally {
      await node.close();
    }
  }, 20_000);
});
