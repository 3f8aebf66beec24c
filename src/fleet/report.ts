/**
 * What one node says of itself to the fleet: compact (it is gossiped to every node every few
 * seconds), JSON, and signed by the node's own key (see sign.ts).
 */
export interface FleetReport {
  /** Format version. */
  v: 1;
  /** The node's public key (hex): the swarm identity, and the key the report is signed with. */
  node: string;
  /** node.name from its config (default: its host name). */
  name: string;
  /** The address it listens on, as it knows it (peers prefer the one they see). */
  address: string | null;
  /** When the report was made (ms since the epoch, the node's clock). */
  at: number;
  publisher: boolean;
  /** The session's phase: starting, idle, objects, pieces, activating, seeding, stopped. */
  phase: string;
  live: number | null;
  /** The newest release the node knows of, with a valid signature. */
  newest: number | null;
  progress: { version: number; bytesHave: number; bytesTotal: number; have: number; total: number } | null;
  bytesUp: number;
  bytesDown: number;
  bytesFromPublisher: number;
  peers: number;
  banned: number;
  /** The code of the last failed step, until a later attempt succeeds. */
  lastError: string | null;
  pinned: boolean;
  /** livePath, the tree its services use. */
  livePath: string;
  /**
   * The UDP port of the DHT bootstrap node it runs (on `address`), or null; absent from older
   * nodes' reports. Other nodes remember it (BootstrapMemory) to find the swarm without the master.
   */
  bootstrapPort?: number | null;
  drift: FleetDrift;
}

export interface FleetDrift {
  /** The last periodic check of the live tree (null: not checked yet). */
  live: { added: number; removed: number; changed: number } | null;
  /** Preserved drift records on the node. */
  records: number;
  /** Ids of records nobody has pulled yet (`drift pull`), newest last; at most MAX_UNPULLED_IDS. */
  unpulled: string[];
  /** Policy "block" holds the node on its live release. */
  blocked: boolean;
}

export const MAX_UNPULLED_IDS = 16;

/** Paths drifted in the live tree now, per the last check. */
export function liveDriftCount(d: FleetDrift): number {
  return d.live ? d.live.added + d.live.removed + d.live.changed : 0;
}
