import { open } from 'node:fs/promises';
import { ChunkswarmError } from '../core/index.js';
import { ChunkHasher, type ChunkRef, type FileObject } from '../manifest/index.js';

const BUF = 1 << 20;

/**
 * Copies `src` to a new file `dest` while chunking and hashing it, in one read of the source.
 * What was hashed is exactly what was written. If the source changes while it is read (its
 * size/mtime/ctime move), the copy is refused: a release must never describe bytes it does not hold.
 */
export async function copyAndHash(src: string, dest: string, displayPath: string): Promise<FileObject> {
  const input = await open(src, 'r').catch((err) => {
    throw ChunkswarmError.fromSystem(err, `opening ${src}`);
  });
  try {
    const before = await input.stat();
    const output = await open(dest, 'wx', 0o600).catch((err) => {
      throw ChunkswarmError.fromSystem(err, `creating ${dest}`);
    });
    const hasher = new ChunkHasher();
    const chunks: ChunkRef[] = [];
    let size = 0;
    try {
      const buf = Buffer.allocUnsafe(BUF);
      for (;;) {
        const { bytesRead } = await input.read(buf, 0, BUF, null);
        if (bytesRead === 0) break;
        const data = buf.subarray(0, bytesRead);
        for (const c of hasher.write(data)) chunks.push(c);
        await output.write(data, 0, bytesRead);
        size += bytesRead;
      }
      for (const c of hasher.end()) chunks.push(c);
    } catch (err) {
      throw ChunkswarmError.fromSystem(err, `copying ${displayPath}`);
    } finally {
      await output.close();
    }
    const after = await input.stat();
    if (
      size !== before.size ||
      after.size !== before.size ||
      after.mtimeMs !== before.mtimeMs ||
      after.ctimeMs !== before.ctimeMs
    ) {
      throw new ChunkswarmError(
        'E_FILE_CHANGED',
        `${displayPath} changed while it was being published; publish again once writers are done`,
      );
    }
    return { kind: 'file', size, chunks };
  } finally {
    await input.close();
  }
}
