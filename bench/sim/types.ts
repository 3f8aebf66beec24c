import type { SimNode } from './sim-node.js';
import type { ChokerOptions, SchedulerOptions, SuperSeederOptions } from '../../src/scheduler/index.js';

/** The shapes of the rollout simulator: what it is asked to run and what it reports. */

export interface NodeSpec {
  /** Upload and download capacity, bytes per second. */
  up: number;
  down: number;
  /** One-way access latency, ms: a message from a to b takes latency(a) + latency(b). */
  latencyMs: number;
  /** When the node comes up and joins the swarm (ms from the publish). */
  joinAt: number;
  /** Extra delay before a late joiner has found its peers (DHT start, swarm join), ms. */
  discoveryMs?: number;
  /** When it dies (crash, power loss), ms; it never comes back. */
  failAt?: number;
  /** Pieces held from the start: 'all' makes it a plain seed (a frontend that has the release). */
  holds?: 'all' | Uint8Array;
}

/**
 * The session-side choices around the pure modules: the module options it passes and how often it
 * ticks them. `feedRates` passes measured per-peer rates to the choker (the session of
 * 2026-11-25 does not: every peer ranks 0, so the choker's regular slots are a random draw).
 */
export interface Policy {
  name: string;
  /** One sentence for the report. */
  description: string;
  scheduler(node: NodeSpec): Partial<SchedulerOptions>;
  choker(node: NodeSpec, peers: number, publisher: boolean): Partial<ChokerOptions>;
  superSeeder: Partial<SuperSeederOptions>;
  feedRates: boolean;
  /**
   * Send the offers the super-seeder returns when a peer is choked or leaves. The session of
   * 2026-11-25 discards them (upload-policy.ts), though the seeder has recorded them as told.
   */
  sendAllOffers: boolean;
  tickMs: number;
  /** Nodes the publisher sends objects to at once (config limits.objectClients); the others retry or ask a peer. */
  objectClients: number;
  /**
   * A downloader tells its peers, each tick when it changed, how many peers unchoke it, and the
   * chokers give a waiting slot to the least served first (Download.reportUnchokers, Choker.peerUnchokers).
   */
  reportUnchokers: boolean;
  /**
   * A node tells a peer of a piece it gained at once only if it unchokes that peer (or the peer is
   * the publisher); a peer it chokes hears at its next tick or just before an unchoke, and a peer
   * that holds the piece never (session/upload-policy.ts gained()). Off: every peer at once.
   */
  laterHaves: boolean;
}

export interface SimSpec {
  name: string;
  seed: number;
  /** Bytes of each piece of the release (the same for every node). */
  pieceSizes: number[];
  /** The publisher (super-seeding); absent in a bootstrap with the publisher stopped. */
  publisher?: { up: number; down: number; latencyMs: number; leaveAt?: number };
  nodes: NodeSpec[];
  /** Connections per node (config limits.maxPeers); below N+1 the overlay is a random graph. */
  maxPeers: number;
  /** Time step of the bandwidth model and resolution of message delivery, ms. */
  dtMs: number;
  policy: Policy;
  /** From the publish (or a node's discovery) to its object fetch: head gossip, set-up. */
  startDelayMs: number;
  /**
   * Tree and file objects a node fetches before its first piece request, asked of the publisher
   * (session/object-fetch.ts asks it first), else of a peer; they share its upload with pieces.
   */
  objectBytes: number;
  /** From the last piece to the release being live: staging plan, verify, rename, swap. */
  finishDelayMs: number;
  /** Give up at this simulated time, ms. */
  maxTimeMs: number;
  /** Called once per simulated second with every node (publisher first, if any): for diagnostics. */
  observe?: (second: number, nodes: readonly SimNode[]) => void;
}

export interface NodeResult {
  /** Seconds from the publish; null: never complete (failed, or cut off by maxTimeMs). */
  live: number | null;
  /** Seconds the node joined at. */
  joined: number;
  failed: boolean;
  bytesDown: number;
  bytesUp: number;
  bytesFromPublisher: number;
  /** Piece bytes received that it already had (end-game duplicates). */
  duplicateBytes: number;
  /** Connections at the end (or when it died), and whether one was to the publisher. */
  peers: number;
  publisherPeer: boolean;
}

export interface SimResult {
  name: string;
  policy: string;
  n: number;
  bytesPerNode: number;
  pieces: number;
  nodes: NodeResult[];
  publisherSent: number;
  /** Seconds until the last node that did not fail was live (null if one never was). */
  first: number | null;
  median: number | null;
  last: number | null;
  incomplete: number;
  boundSeconds: number;
  ratio: number | null;
  /** Per simulated second: receivers' download / their capacity, over those still downloading. */
  utilisation: number[];
  /** Per simulated second: followers' upload / their capacity (those that have started). */
  upUtilisation: number[];
  /** Per simulated second: the publisher's upload / its capacity. */
  publisherUtilisation: number[];
  simulatedSeconds: number;
  wallSeconds: number;
  events: number;
}
