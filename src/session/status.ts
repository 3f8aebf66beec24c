import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError } from '../core/index.js';
import { atomicWrite } from '../store/index.js';
import type { Problem } from './diagnose.js';

export type Phase = 'starting' | 'idle' | 'objects' | 'pieces' | 'activating' | 'seeding' | 'stopped';

export interface PeerStatus {
  key: string;
  publisher: boolean;
  /** Piece bytes we sent to / received from this peer, over all its connections. */
  up: number;
  down: number;
  connected: boolean;
  /** How its bytes travel now (see Peer.path); null while it is not connected. */
  path: 'tcp' | 'hyperswarm' | null;
}

/** What `chunkswarm status` shows; written by `serve` to dataDir/status.json every second. */
export interface NodeStatusReport {
  node: string;
  pid: number;
  publisher: boolean;
  role: 'publisher' | 'follower';
  startedAt: string;
  updated: string;
  phase: Phase;
  live: number | null;
  pinned: boolean;
  /** The newest release known, with a valid signature. */
  newest: { version: number; release: string } | null;
  progress: { version: number; have: number; total: number; bytesHave: number; bytesTotal: number } | null;
  /** Pieces of the release being fetched that no connected peer has. */
  unavailablePieces: number;
  bytesUp: number;
  bytesDown: number;
  bytesFromPublisher: number;
  objectsFetched: number;
  /** Tree and file objects this node sent its peers (the publisher answers only limits.objectClients peers at a time). */
  objectsServed: number;
  peers: PeerStatus[];
  banned: Array<{ key: string; reason: string }>;
  refusedHeads: Array<{ peer: string; code: string; message: string }>;
  swarm: Record<string, number>;
  verify: { at: string; added: number; removed: number; changed: number } | null;
  /**
   * The signed membership this node knows: its version and size (null: none yet), whether this
   * node enforces it (network.allowlist not null), and whether it lists this node (null: no record
   * or not enforced).
   */
  membership: { version: number | null; members: number | null; enforced: boolean; member: boolean | null };
  /** The last failed step, until a later attempt succeeds. */
  lastError: { code: string; message: string; at: string } | null;
  /** Consecutive failed attempts and when the next one runs (null: none scheduled). */
  retry: { failures: number; retryInSec: number | null };
  /** Why the node is not converging, if it is not (see diagnose()). */
  problems: Problem[];
  /** host:port of the metrics and dashboard listener (metrics.listen), or null when off. */
  http: string | null;
  /** The process's memory (MB): resident, the JavaScript heap used and reserved, and buffers outside it. */
  memory: { rssMB: number; heapUsedMB: number; heapTotalMB: number; externalMB: number };
}

export function statusPath(dataDir: string): string {
  return join(dataDir, 'status.json');
}

export async function writeStatus(dataDir: string, report: NodeStatusReport): Promise<void> {
  await atomicWrite(statusPath(dataDir), JSON.stringify(report, null, 2) + '\n', { durable: false });
}

/** The last report and how old it is; a serve process that stopped leaves a stale one. */
export async function readStatus(dataDir: string): Promise<{ report: NodeStatusReport; ageSec: number }> {
  const path = statusPath(dataDir);
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { report: JSON.parse(text) as NodeStatusReport, ageSec: (Date.now() - st.mtimeMs) / 1000 };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw ChunkswarmError.notFound(`status of this node (${path}): is "chunkswarm serve" running?`);
    }
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  }
}
