export * from './types.js';
export { ChunkHasher, chunkBoundaries, chunkBytes, fileObjectOf, hashFile, isZeroRun } from './chunker.js';
export { contentHashOf, contentHashOfFile } from './content-hash.js';
export {
  encodeObject,
  decodeObject,
  encodeReleaseBody,
  decodeReleaseBody,
  encodeSignedRelease,
  decodeSignedRelease,
  hashBytes,
  objectHash,
  releaseId,
  sameEncoding,
} from './encoding.js';
export { validateName, compareNames, comparePaths } from './validate.js';
export { generatePublisherKeys, clusterIdOf, signRelease, verifyRelease, signDetached, verifyDetached } from './sign.js';
export { diffTrees, type TreeChange } from './diff.js';
export { walkTree, type LoadTree, type LoadFile, type Visit } from './walk.js';
export { PathLookup } from './path-lookup.js';
export { releasePieces, releaseChunks, distinctChunks, groupPieces, newContentPieces, pieceTarget, readPieceRange, rangeFits, wholePiece, PIECE_MAX, PIECE_MIN, type Piece, type PieceRange } from './pieces.js';
export { measureExpansion, ExpansionMemo, DEFAULT_EXPANSION_LIMITS, type Expansion, type ExpansionLimits } from './expansion.js';
