import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { bitfieldBytes, ChunkswarmError } from '../core/index.js';
import { atomicWrite, type ReleaseStore } from '../store/index.js';

/**
 * What a staging area holds, kept next to it (staging/<v>.progress.json) so a crashed or killed
 * stage resumes where it stopped. A piece is recorded only after its bytes were flushed to disk.
 */
export interface Progress {
  release: string;
  pieces: number;
  /** BitTorrent bit order: piece i is bit 0x80 >> (i % 8) of byte i >> 3. */
  done: Uint8Array;
  /** Inodes found damaged while staging; never linked again. */
  tainted: string[];
}

export function progressPath(releases: ReleaseStore, version: number): string {
  return join(releases.stagingDir, `${version}.progress.json`);
}

/** The recorded progress of this very release, or null (none, unreadable, or another release's). */
export async function loadProgress(path: string, release: string, pieces: number): Promise<Progress | null> {
  let raw: { release?: unknown; pieces?: unknown; done?: unknown; tainted?: unknown };
  try {
    raw = JSON.parse(await readFile(path, 'utf8')) as typeof raw;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return null;
    throw ChunkswarmError.fromSystem(err, `reading ${path}`);
  }
  if (raw.release !== release || raw.pieces !== pieces || typeof raw.done !== 'string') return null;
  const done = new Uint8Array(Buffer.from(raw.done, 'base64'));
  if (done.length !== bitfieldBytes(pieces).length) return null;
  const tainted = Array.isArray(raw.tainted) ? raw.tainted.filter((t): t is string => typeof t === 'string') : [];
  return { release, pieces, done, tainted };
}

export async function saveProgress(path: string, p: Progress): Promise<void> {
  const json = { release: p.release, pieces: p.pieces, done: Buffer.from(p.done).toString('base64'), tainted: p.tainted };
  await atomicWrite(path, JSON.stringify(json) + '\n');
}

export async function removeProgress(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw ChunkswarmError.fromSystem(err, `removing ${path}`);
  });
}
