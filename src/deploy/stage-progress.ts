import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { bitfieldBytes, ChunkswarmError, countBits, systemClock, type Clock } from '../core/index.js';
import { atomicWrite, syncFilesystem, type ReleaseStore } from '../store/index.js';

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

/** When a staging area's progress is made durable and recorded, and who hears of it. */
export interface ProgressOptions {
  /** Progress is made durable after this many written pieces or this much time (default 1024 / 5000 ms): each time costs a syncfs. */
  flushEvery?: { pieces?: number; ms?: number };
  clock?: Clock;
  /** After each durable record, with the number of pieces recorded. */
  onFlush?: (recorded: number) => void;
}

/** The progress file of one staging area, written as its pieces are stored. */
export class ProgressRecord {
  private pending = 0;
  private lastFlush: number;
  private readonly flushPieces: number;
  private readonly flushMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly path: string,
    private readonly release: string,
    private readonly pieces: number,
    private readonly tainted: ReadonlySet<string>,
    private readonly o: ProgressOptions,
  ) {
    this.clock = o.clock ?? systemClock;
    this.lastFlush = this.clock.now();
    this.flushPieces = o.flushEvery?.pieces ?? 1024;
    this.flushMs = o.flushEvery?.ms ?? 5000;
  }

  /** A piece was stored, or taken back, since the last record. */
  changed(): void {
    this.pending++;
  }

  /** Whether a record is due: after flushEvery.pieces changes or, if `timed`, once flushEvery.ms passed. */
  due(timed: boolean): boolean {
    return this.pending >= this.flushPieces || (timed && this.clock.now() - this.lastFlush >= this.flushMs);
  }

  /**
   * Makes the tree in `dir` durable, then records `done`, if a piece changed since the last record
   * (`force`: even if none did). Callers run it one call at a time (PieceIntake.flush).
   */
  async write(dir: string, done: Uint8Array, force: boolean): Promise<void> {
    if (this.pending === 0 && !force) return;
    const snapshot = done.slice();
    const pending = this.pending;
    this.pending = 0;
    this.lastFlush = this.clock.now();
    try {
      // Nothing written since the last flush (a first record, say): what the record claims is
      // durable already, and a syncfs would only wait on every other writer of the file system.
      if (pending > 0) await syncFilesystem(dir);
      await saveProgress(this.path, { release: this.release, pieces: this.pieces, done: snapshot, tainted: [...this.tainted] });
    } catch (err) {
      this.pending += Math.max(1, pending);
      throw err;
    }
    this.o.onFlush?.(countBits(snapshot));
  }
}
