import type { ObjectHash } from '../core/index.js';
import { fileObjectOf, hashFile } from './chunker.js';
import { encodeObject, objectHash } from './encoding.js';

/** The hash a release's tree entry names for a file with this content: what verify, the donor checks and drift pull compare with. */
export async function contentHashOfFile(path: string): Promise<ObjectHash> {
  return objectHash(encodeObject(await hashFile(path)));
}

/** The same for content held in memory. */
export function contentHashOf(bytes: Uint8Array): ObjectHash {
  return objectHash(encodeObject(fileObjectOf(bytes)));
}
