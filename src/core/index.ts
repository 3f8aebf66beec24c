export { ChunkswarmError, isChunkswarmError, type ErrorCode } from './errors.js';
export { type ChunkHash, type ObjectHash, type ReleaseId, isHex64, asChunkHash, asObjectHash, asReleaseId } from './ids.js';
export { type Clock, systemClock, ManualClock, settlesWithin } from './clock.js';
export { Resource } from './lifecycle.js';
export { SerialQueue } from './serial.js';
export { loggerOf, silentLogger, type Logger, type LogFields, type LogLevel } from './log.js';
export { Bitfield, bitfieldBytes, countBits, getBit, setBit } from './bitfield.js';
export { BytesCache } from './bytes-cache.js';
export { BufferPool } from './buffer-pool.js';
