export { HttpListener, type HttpSources } from './server.js';
export { NodeMetrics, type NodeSnapshot } from './metrics.js';
export { RolloutTimer } from './rollout-timer.js';
export { BytesHistory, type BytesSample } from './history.js';
export { listenAddress } from './listen-address.js';
