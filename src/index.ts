/** The library's curated API: what the CLI (and any embedding program) may use. */
export { ChunkswarmError, isChunkswarmError, loggerOf, quotePath, silentLogger, type ErrorCode, type LogFields, type Logger, type LogLevel } from './core/index.js';
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
export { runNodeCommand, callControl, controlSocketPath, type ControlRequest, type NodeCommand, type NodeCommandResult, type NodeCommandResults, type ActivateOutcome } from './admin/index.js';
export { DataLock } from './store/index.js';
export {
  Deployer,
  Stager,
  canActivate,
  compactionText,
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
export {
  MembershipAdmin,
  membershipPath,
  type MembershipCommand,
  type MembershipCommandResults,
  type MembershipView,
  type TokenCreated,
  type InvitationView,
  type JoinNodeOptions,
  type JoinNodeResult,
} from './membership/index.js';
export type { ChunkswarmNode, NodeOptions, NodeStatusReport, PeerStatus, Phase, PulledDrift } from './session/index.js';
export {
  applyToSource,
  checkRelativePath,
  compareWithSource,
  summaryLine,
  type ApplyOptions,
  type DriftBundle,
  type FleetNodeView,
  type FleetSummary,
  type FleetView,
  type SourceChange,
} from './fleet/index.js';
import type { ChunkswarmNode, NodeOptions, NodeStatusReport } from './session/index.js';
import type { JoinNodeOptions, JoinNodeResult } from './membership/index.js';

/**
 * The networking half (hyperswarm, hyperdht) is loaded only by the commands that use it, so that
 * publish, verify and friends start in a fraction of the time.
 */
export async function createNode(opts: NodeOptions): Promise<ChunkswarmNode> {
  const { ChunkswarmNode } = await import('./session/index.js');
  return new ChunkswarmNode(opts);
}

/** The last report a node wrote: reading a file needs none of the networking half (0.47 CPU-s of `status` with it, for a node that is not running). */
export async function readStatus(dataDir: string): Promise<{ report: NodeStatusReport; ageSec: number }> {
  return (await import('./session/status.js')).readStatus(dataDir);
}

/** `chunkswarm join <token>`: loads the networking half, like createNode(). */
export async function joinNode(opts: JoinNodeOptions): Promise<JoinNodeResult> {
  return (await import('./membership/join-node.js')).joinNode(opts);
}
