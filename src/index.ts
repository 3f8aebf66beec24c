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
