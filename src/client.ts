/**
 * The library's light face: what a command needs before it does any work of its own (its config,
 * the running node's control socket, errors, logs, and what it prints of a node's answer). The
 * CLI loads this at its start, and the whole API (index.ts, which has all of this too) only when
 * a command works in its own process: loading every module took ~0.1 s of each command's start,
 * as long as `find` takes to walk 50,000 files.
 */
export { ChunkswarmError, isChunkswarmError, loggerOf, quotePath, type ErrorCode, type LogFields, type Logger, type LogLevel } from './core/index.js';
export { CONFIG_FILE, loadConfig, type Config } from './config/index.js';
export { callControl, controlSocketPath, type ControlRequest } from './admin/control-client.js';
export { verifyExitBits, type DriftEntry, type VerifyResult } from './deploy/verify-result.js';
export { summaryLine } from './fleet/view.js';
