/** The library's curated API: what the CLI (and any embedding program) may use. */
export { ChunkswarmError, isChunkswarmError, type ErrorCode } from './core/index.js';
export { CONFIG_FILE, loadConfig, parseConfig, type Config } from './config/index.js';
export type { TreeChange, TreeEntry, SignedRelease } from './manifest/index.js';
export {
  initNode,
  publish,
  showRelease,
  diffReleases,
  type InitOptions,
  type PublishOptions,
  type PublishProgress,
  type PublishSummary,
  type ReleaseSummary,
  type TreeListing,
} from './admin/index.js';
export { publishFrom, type PublishFromOptions, type PublishFromSummary } from './admin/index.js';
export {
  Deployer,
  Stager,
  canActivate,
  importFromDataDir,
  listDrift,
  showDrift,
  verifyExitBits,
  type DeployResult,
  type DeployState,
  type DriftReport,
  type DriftEntry,
  type GcResult,
  type StagerOptions,
  type VerifyResult,
} from './deploy/index.js';
export { ChunkswarmNode, readStatus, type NodeOptions, type NodeStatusReport, type PeerStatus, type Phase } from './session/index.js';
