import { describe, expect, it } from 'vitest';
import { pieces, releaseOf, tcpPair, wirePair } from './wire-fixtures.js';

const PIECE = 256 * 1024;
const DISTINCT = 32;
const TOTAL = 1024; // 256 MiB
const PIPELINE = 16;

describe('PeerWire throughput over 127.0.0.1 TCP', () => {
  it(`moves ${TOTAL} pieces of 256 KiB with ${PIPELINE} in flight, each one intact`, async () => {
    const { a, b, modelA } = await wirePair({}, await tcpPair());
    const release = releaseOf('bulk');
    const distinct = pieces(Array(DISTINCT).fill(PIECE));
    const space = Array.from({ length: TOTAL }, (_, i) => distinct[i % DISTINCT]!);
    a.setSpace(release, modelA.addSpace(release, space));
    a.unchoke();
    await new Promise<void>((resolve) => {
      const check = (): void => (b.remoteSpace && !b.peerChoking ? resolve() : void setTimeout(check, 1));
      check();
    });

    let nextIndex = 0;
    let bytes = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (nextIndex < TOTAL) {
        const i = nextIndex++;
        const got = await b.requestPiece(i, PIECE);
        if (Buffer.compare(got, distinct[i % DISTINCT]!) === 0) bytes += got.length;
      }
    };
    await Promise.all(Array.from({ length: PIPELINE }, worker));
    const seconds = (performance.now() - started) / 1000;
    console.log(`wire throughput: ${(bytes / 2 ** 20 / seconds).toFixed(0)} MiB/s (${TOTAL} x 256 KiB, ${PIPELINE} in flight)`);

    expect(bytes).toBe(TOTAL * PIECE);
    expect(b.stats().downloadedBytes).toBe(TOTAL * PIECE);
    expect(a.stats().piecesServed).toBe(TOTAL);
    await Promise.all([a.close(), b.close()]);
  });
});
