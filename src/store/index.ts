export { atomicWrite, readTextOrNull, syncFilesystem } from './atomic-write.js';
export { ObjectStore } from './object-store.js';
export { StatCache, type StatKey } from './stat-cache.js';
export { ReleaseStore, type NodeState } from './release-store.js';
export { removeTree } from './remove-tree.js';
export { ChunkIndex, inodeKey, type ChunkLocation, type ChunkIndexOptions } from './chunk-index.js';
export { DataLock } from './data-lock.js';
export { InodeCache, type InodeStat } from './inode-cache.js';
export { fetchObjects, type ObjectRequester } from './fetch-objects.js';
