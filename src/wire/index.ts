export { PeerWire } from './peer-wire.js';
export { isDeclined } from './piece-client.js';
export { EXTENSION_NAME } from './stream-link.js';
export { clusterInfoHash, wirePeerId } from './info-hash.js';
export { encodeMessage, decodeMessage, type ExtMessage, type NodeStatus } from './messages.js';
export type { WireStore, WireStream, WireLimits, UploadGate, PeerWireOptions, PeerWireEvents, SpaceInfo, WireStats } from './types.js';
// node.ts imports it from here until the session split; new code imports it from core.
export { Bitfield } from '../core/index.js';
