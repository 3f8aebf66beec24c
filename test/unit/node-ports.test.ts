import { describe, expect, it } from 'vitest';
import { portFor } from '../../src/swarm/node-ports.js';

/** A stand-in for the kernel's choice: the ports it hands out in turn, and the ports it refuses. */
function kernel(draws: number[], refused: number[] = []): { free: (host: string, port?: number) => Promise<number>; asked: Array<number | undefined> } {
  const asked: Array<number | undefined> = [];
  return {
    asked,
    free: async (_host, port) => {
      asked.push(port);
      if (port !== undefined && port !== 0) {
        if (refused.includes(port)) throw new Error('EADDRINUSE');
        return port;
      }
      const next = draws.shift();
      if (next === undefined) throw new Error('no more ports');
      return next;
    },
  };
}

describe('portFor: the port a new node is given', () => {
  it('on loopback, draws again while the kernel hands out a port another node of this machine has', async () => {
    const k = kernel([41000, 41000, 41002]);
    expect(await portFor('127.0.0.1', 49738, k.free, [41000])).toBe(41002);
    expect(k.asked).toEqual([undefined, undefined, undefined]);
  });

  it('on loopback, takes the first draw when nothing is taken, and never tries the preferred port', async () => {
    const k = kernel([41000]);
    expect(await portFor('127.0.0.1', 49738, k.free)).toBe(41000);
    expect(k.asked).toEqual([undefined]);
  });

  it('elsewhere, keeps the preferred port (one port for the firewall across the cluster), else a draw that is not taken', async () => {
    expect(await portFor('10.0.0.5', 49738, kernel([]).free, [49738])).toBe(49738);
    const busy = kernel([49738, 41000], [49738]);
    expect(await portFor('10.0.0.5', 49738, busy.free, [49738])).toBe(41000);
  });

  it('gives up (null: the default port, and serve says what is wrong) when every draw is taken or none can be bound', async () => {
    expect(await portFor('127.0.0.1', 49738, kernel(Array(20).fill(41000)).free, [41000])).toBeNull();
    expect(await portFor('127.0.0.1', 49738, kernel([]).free)).toBeNull();
  });
});
