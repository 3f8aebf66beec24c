import { freeTcpPort as bindTcp, freeUdpPort as bindUdp } from '../../src/swarm/node-ports.js';

/**
 * Fixed ports for the processes a test or bench starts on 127.0.0.1 (a DHT bootstrap node, a
 * direct path, an rsync daemon). Each is free when drawn and bound a little later by a child
 * process, so two draws must never name the same port:
 * - below the kernel's ephemeral range (32768+), which every DHT socket binds all the time;
 * - never twice in one process (one cluster's nodes, a follower added later, a second cluster);
 * - in a slice of the range of its own for each vitest worker running at the same time: a cluster
 *   in another worker drew a port this one had just found free, and a node died at start with
 *   "address already in use" (CI, 2026-12-05).
 */
const LOW = 20_000;
const HIGH = 32_000;
/** Slice 0 for a process outside vitest (a bench, the demo); vitest numbers its workers from 1. */
const SLICES = 8;

const handedOut = new Set<number>();

function slice(): { from: number; size: number } {
  const pool = Number(process.env.VITEST_POOL_ID ?? 0);
  const index = Number.isInteger(pool) && pool > 0 ? pool % SLICES : 0;
  const size = Math.floor((HIGH - LOW) / SLICES);
  return { from: LOW + index * size, size };
}

async function draw(isFree: (port: number) => Promise<boolean>): Promise<number> {
  const { from, size } = slice();
  for (let tries = 0; tries < 10 * size; tries++) {
    const port = from + Math.floor(Math.random() * size);
    if (handedOut.has(port)) continue;
    if (await isFree(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port left in ${from}-${from + size - 1}`);
}

/** A UDP port free right now on 127.0.0.1 and not handed out before, for a DHT bootstrap node. */
export function freeUdpPort(): Promise<number> {
  return draw((port) => bindUdp('127.0.0.1', port).then(() => true, () => false));
}

/** A TCP port free right now on 127.0.0.1 and not handed out before. */
export function freeTcpPort(): Promise<number> {
  return draw((port) => bindTcp('127.0.0.1', port).then(() => true, () => false));
}
