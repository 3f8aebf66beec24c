export { publish, scanAhead, type PublishCaches, type PublishOptions, type PublishProgress, type PublishSummary, type SourceScan } from './publish.js';
export { scanSource, type ScanResult, type ScannedNode } from './scan-source.js';
export { initNode, type InitOptions, type InitResult } from './init-node.js';
export { showRelease, diffReleases, type ReleaseSummary, type TreeListing } from './inspect.js';
export { publishFrom, type PublishFromOptions, type PublishFromSummary } from './publish-from.js';
export { runNodeCommand, type NodeCommand, type NodeCommandResult, type NodeCommandResults, type ActivateOutcome } from './node-commands.js';
export { ControlServer } from './control-socket.js';
export { callControl, controlSocketPath, type ControlRequest, type PrescanCommand, type PublishCommand, type WaitingNotice } from './control-client.js';
