export { PeerWire } from './peer-wire.js';
export { isDeclined, declinedError } from './piece-client.js';
export { EXTENSION_NAME } from './stream-link.js';
export { clusterInfoHash, wirePeerId } from './info-hash.js';
export { encodeMessage, decodeMessage, type ExtMessage, type NodeStatus } from './messages.js';
export type { WireStore, WireStream, WireLimits, WireModel, WireControl, PeerWireOptions, SpaceInfo, WireStats, HaveTiming } from './types.js';
