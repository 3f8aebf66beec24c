export { ChunkswarmNode, type NodeOptions } from './node.js';
export { readStatus, statusPath, type NodeStatusReport, type PeerStatus, type Phase } from './status.js';
export type { PulledDrift } from './fleet-gossip.js';
