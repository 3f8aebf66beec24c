export { Swarm, DEFAULT_AUTH_TIMEOUT_MS, DEFAULT_MAX_PEERS, type SwarmOptions, type Peer, type PeerPath, type SwarmStats, type SwarmEvents } from './swarm.js';
export { startBootstrapNode, type BootstrapNode, type BootstrapAddress } from './bootstrap.js';
export { deriveTopic, checkClusterSecret, CLUSTER_SECRET_BYTES } from './topic.js';
export { authMac, encodeAuthFrame, authenticate, AUTH_FRAME_BYTES, type AuthOptions } from './auth.js';
export { TokenBucket, defaultBurst } from './token-bucket.js';
export { RateLimiter, type RateLimits, type Pacer } from './rate-limit.js';
export { PeerStream, DEFAULT_RECEIVE_WINDOW, type InnerDuplex, type PeerStreamOptions } from './peer-stream.js';
export { FrameReader, dataHeader, creditFrame, FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD, type FrameSink } from './frames.js';
export { readPrefix, type PrefixSource } from './read-prefix.js';
