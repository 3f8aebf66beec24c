import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { joinHostPort, splitHostPort } from '../core/index.js';
import { atomicWrite } from '../store/index.js';
import type { BootstrapAddress } from './bootstrap.js';

const FILE = 'bootstrap-nodes.json';
/** Enough for one to be up; each dead one costs a ping now and then (BootstrapWatch). */
export const MAX_REMEMBERED = 16;

/**
 * The DHT bootstrap nodes that this node learnt from its peers' reports (a node that runs one says
 * on which port), kept in dataDir/bootstrap-nodes.json across restarts. network.bootstrap holds
 * what the operator wrote down, often the master's node alone (join copies the token's list): with
 * these, a node restarted while every one of those is down still finds the swarm through the
 * frontends it knew. Only ever an addition to network.bootstrap.
 */
export class BootstrapMemory {
  private constructor(
    private readonly path: string,
    private known: BootstrapAddress[],
  ) {}

  /** What was remembered; a missing or unreadable file is nothing remembered. */
  static async load(dataDir: string): Promise<BootstrapMemory> {
    const path = join(dataDir, FILE);
    const raw = await readFile(path, 'utf8').then((t) => JSON.parse(t) as unknown).catch(() => null);
    const known = Array.isArray(raw) ? raw.flatMap((a) => (typeof a === 'string' ? parseBootstrap(a) : [])).slice(0, MAX_REMEMBERED) : [];
    return new BootstrapMemory(path, known);
  }

  get nodes(): readonly BootstrapAddress[] {
    return this.known;
  }

  /**
   * Takes the bootstrap nodes that the fleet's reports name now (the most recently heard from
   * first) and were not remembered, ahead of those remembered (a node that left may come back);
   * saved when there is a new one.
   */
  async learn(reported: readonly BootstrapAddress[]): Promise<void> {
    const fresh = reported.filter((a) => !this.known.some((b) => sameAddress(a, b)));
    if (fresh.length === 0) return;
    this.known = mergeBootstrapNodes(fresh, this.known);
    await atomicWrite(this.path, JSON.stringify(this.known.map(joinHostPort)) + '\n', { durable: false }).catch(() => undefined);
  }
}

/** `first`, then those of `then` not in it, at most `max`. */
export function mergeBootstrapNodes(first: readonly BootstrapAddress[], then: readonly BootstrapAddress[], max = MAX_REMEMBERED): BootstrapAddress[] {
  const out: BootstrapAddress[] = [];
  for (const a of [...first, ...then]) if (out.length < max && !out.some((b) => sameAddress(a, b))) out.push(a);
  return out;
}

/** host:port, an IPv4 host (what other nodes reach), as remembered. */
function parseBootstrap(s: string): BootstrapAddress[] {
  const { host, port } = splitHostPort(s);
  return isIPv4(host) && Number.isInteger(port) && port > 0 && port < 65536 ? [{ host, port }] : [];
}

function sameAddress(a: BootstrapAddress, b: BootstrapAddress): boolean {
  return a.host === b.host && a.port === b.port;
}
