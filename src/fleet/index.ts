export { MAX_UNPULLED_IDS, liveDriftCount, type FleetDrift, type FleetReport } from './report.js';
export { ReportSigner, checkSignature, readReport, type SignedReport } from './sign.js';
export { FleetBook, type FleetDigest, type FleetEntry, type FleetBookOptions } from './book.js';
export { fleetView, summaryLine, type FleetNodeView, type FleetSummary, type FleetView, type NodeState } from './view.js';
export { checkRelativePath, driftRecordIds, markPulled, packDriftRecord, unpackDriftRecord, type BundleFile, type DriftBundle } from './drift-bundle.js';
export { applyToSource, compareWithSource, type ApplyOptions, type SourceChange } from './drift-source.js';
export { isBinary, unifiedDiff } from './text-diff.js';
export { driftRecordViews, type DriftRecordView } from './drift-diffs.js';
