import type HyperDHT from 'hyperdht';
import type { Clock } from '../core/index.js';
import type { BootstrapAddress } from './bootstrap.js';

/** What the watch needs of a DHT node. */
export interface RoutingTable {
  /** Resolves if the node answers; rejects once the DHT gives up on it. */
  ping(node: BootstrapAddress): Promise<unknown>;
  /** Whether the node is in the routing table now. */
  has(node: BootstrapAddress): boolean;
  add(node: BootstrapAddress): void;
}

/** The first wait before a node that did not answer is pinged again; it doubles up to the next. */
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 5000;

interface Due {
  at: number;
  delay: number;
  pinging: boolean;
}

/**
 * Keeps the cluster's listed bootstrap nodes in a DHT node's routing table, each from when it
 * answers. hyperdht asks every node of its bootstrap list in each query of a small DHT and waits
 * out a dead one (~6 s; its first query, which every announce and lookup waits for, twice), so a
 * listed frontend that was not up yet, or a master restarting, held a node's whole rendezvous for
 * 6–12 s. So the DHT starts with no list, and the watch pings each listed node, puts it in the
 * table once it answers, and pings again any that is not in the table (not up yet, or dropped by
 * the DHT after it stopped answering): after 1 s, doubling up to 5 s (a ping itself takes 4 s to
 * give up, resending each second, so a node that comes up is answered within ~5 s).
 */
export class BootstrapWatch {
  private readonly due = new Map<BootstrapAddress, Due>();
  private timer: { cancel(): void } | null = null;
  private stopped = false;
  private answered: (() => void) | null = null;

  constructor(
    private readonly table: RoutingTable,
    nodes: readonly BootstrapAddress[],
    /** `found`: called on each answer, the node now in the table. */
    private readonly o: { clock: Clock; found?: (node: BootstrapAddress) => void },
  ) {
    for (const node of nodes) this.due.set(node, { at: 0, delay: RETRY_FIRST_MS, pinging: false });
  }

  /**
   * Pings every listed node; resolves true `graceMs` after the first answer (others answer within
   * milliseconds when up), or false after `timeoutMs` if none answered: the node starts alone and
   * the watch goes on.
   */
  start(o: { timeoutMs?: number; graceMs?: number } = {}): Promise<boolean> {
    const timeoutMs = o.timeoutMs ?? 1000;
    const graceMs = o.graceMs ?? 150;
    const started = new Promise<boolean>((resolve) => {
      const timeout = this.o.clock.setTimeout(() => resolve(false), timeoutMs);
      this.answered = () => {
        this.answered = null;
        timeout.cancel();
        this.o.clock.setTimeout(() => resolve(true), graceMs);
      };
    });
    this.tick();
    return started;
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.o.clock.now();
    for (const [node, due] of this.due) {
      if (due.pinging) continue;
      if (this.table.has(node)) {
        due.delay = RETRY_FIRST_MS;
        due.at = now + RETRY_FIRST_MS;
      } else if (now >= due.at) {
        this.ping(node, due);
      }
    }
    this.timer = this.o.clock.setTimeout(() => this.tick(), RETRY_FIRST_MS);
  }

  private ping(node: BootstrapAddress, due: Due): void {
    due.pinging = true;
    this.table.ping(node).then(
      () => {
        due.pinging = false;
        if (this.stopped) return;
        if (!this.table.has(node)) this.table.add(node);
        this.answered?.();
        this.o.found?.(node);
      },
      () => {
        due.pinging = false;
        due.at = this.o.clock.now() + due.delay;
        due.delay = Math.min(due.delay * 2, RETRY_MAX_MS);
      },
    );
  }
}

/** A hyperdht node's routing table, as the watch uses it. */
export function routingTableOf(dht: HyperDHT): RoutingTable {
  const has = (node: BootstrapAddress) => dht.toArray().some((n) => n.host === node.host && n.port === node.port);
  return { ping: (node) => dht.ping(node), has, add: (node) => dht.addNode(node) };
}
