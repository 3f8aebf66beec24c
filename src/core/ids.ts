/**
 * Branded identifiers: a ChunkHash cannot be passed where an ObjectHash is expected even though
 * both are 64 lowercase hex characters of SHA-256.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type ChunkHash = Brand<string, 'ChunkHash'>;
export type ObjectHash = Brand<string, 'ObjectHash'>;
/** A release is named by the SHA-256 of its body encoding (signatures are not part of the name). */
export type ReleaseId = Brand<string, 'ReleaseId'>;

const HEX64 = /^[0-9a-f]{64}$/;

export function isHex64(s: string): boolean {
  return HEX64.test(s);
}

export const asChunkHash = (s: string): ChunkHash => s as ChunkHash;
export const asObjectHash = (s: string): ObjectHash => s as ObjectHash;
export const asReleaseId = (s: string): ReleaseId => s as ReleaseId;
