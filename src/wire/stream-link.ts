import type Wire from 'bittorrent-protocol';
import type { WireExtension } from 'bittorrent-protocol';
import { ChunkswarmError } from '../core/index.js';
import type { FrameGuard } from './frame-guard.js';
import type { WireStream } from './types.js';

export const EXTENSION_NAME = 'chunkswarm';

export interface LinkEvents {
  /** The inbound bytes broke the framing rules; nothing more is fed to the wire. */
  problem(reason: string): void;
  /** The stream ended, closed or failed. */
  ended(err: ChunkswarmError | null): void;
  isClosed(): boolean;
}

/**
 * Joins the peer's stream and the library's wire: inbound bytes pass the FrameGuard before the
 * wire sees them, and both directions pause on backpressure.
 */
export function linkStream(stream: WireStream, wire: Wire, guard: FrameGuard, on: LinkEvents): void {
  stream.on('data', (chunk: unknown) => {
    if (on.isClosed()) return;
    if (!(chunk instanceof Uint8Array)) {
      on.ended(new ChunkswarmError('E_PROTOCOL', 'the connection delivered non-binary data (an object-mode stream?)'));
      return;
    }
    const problem = guard.check(chunk);
    if (problem !== null) on.problem(problem);
    else if (!wire.write(chunk)) stream.pause();
  });
  wire.on('drain', () => stream.resume());
  wire.on('data', (data) => {
    if (!on.isClosed() && !stream.write(data)) wire.pause();
  });
  stream.on('drain', () => wire.resume());
  stream.on('end', () => on.ended(null));
  stream.on('close', () => on.ended(null));
  stream.on('error', (err) => on.ended(ChunkswarmError.fromSystem(err, 'connection to peer')));
}

/** The class `wire.use()` wants: the library reads the extension's name from its prototype. */
export function extensionClass(onMessage: (payload: Uint8Array) => void): new () => WireExtension {
  return class ChunkswarmExtension implements WireExtension {
    get name(): string {
      return EXTENSION_NAME;
    }
    onMessage(payload: Uint8Array): void {
      onMessage(payload);
    }
  };
}
