export { finalizeTree, onDiskMode, type FinalizeOptions } from './finalize-tree.js';
