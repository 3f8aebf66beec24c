import { createRequire } from 'node:module';
import { quotePath } from '../core/index.js';

/** The diff library is loaded when a diff is made: ~25 ms of every command's start otherwise (the CLI loads the fleet module). */
const require = createRequire(import.meta.url);

/** Bytes that are not valid UTF-8 or hold a NUL in their first 8 KiB are binary: copied, never diffed. */
export function isBinary(bytes: Uint8Array): boolean {
  if (bytes.subarray(0, 8192).includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return false;
  } catch {
    return true;
  }
}

/** A unified diff from `before` to `after` of `path` (null side: absent), or null when either is binary. */
export function unifiedDiff(path: string, before: Uint8Array | null, after: Uint8Array | null): string | null {
  if ((before && isBinary(before)) || (after && isBinary(after))) return null;
  const text = (b: Uint8Array | null) => (b ? Buffer.from(b).toString('utf8') : '');
  const { createTwoFilesPatch } = require('diff') as typeof import('diff');
  return createTwoFilesPatch(before ? quotePath(`a/${path}`) : '/dev/null', after ? quotePath(`b/${path}`) : '/dev/null', text(before), text(after), '', '', { context: 3 });
}

/**
 * The edit that turned `base` into `edited`, applied to `other` (another descendant of `base`):
 * the merged text, or null where the two changed the same lines (a hunk whose context is gone).
 */
export function mergeEdit(base: Uint8Array, edited: Uint8Array, other: Uint8Array): Buffer | null {
  const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
  const { applyPatch, structuredPatch } = require('diff') as typeof import('diff');
  const merged = applyPatch(text(other), structuredPatch('', '', text(base), text(edited)));
  return merged === false ? null : Buffer.from(merged, 'utf8');
}
