/**
 * Fault 9: a follower told to stop (SIGTERM, as `systemctl stop` does) while it prepares the
 * staging of a release exits at once instead of fetching the rest of the release first, and
 * finishes the release when it starts again. The signal is sent right after its objects are in,
 * while the stager plans the files of a 5,000-file tree: the moment a stop used to find no
 * download to cancel.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../bench/lib/cluster.js';
import { generateTree } from '../../bench/lib/gen-tree.js';
import { editConfig, sleep, sumBytesLost } from './harness.js';
import { declareCases } from './record.js';

let dir: string;
let cluster: LocalCluster | undefined;

afterAll(async () => {
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('fault 9: a follower stopped while it prepares a staging', () => {
  it('exits on SIGTERM without fetching the rest, then finishes the release when started again', async (ctx) => {
    const meta = declareCases(ctx, { kind: 'fault', group: '9 follower stopped mid-staging', tried: 1 });
    dir = await mkdtemp(join(tmpdir(), 'cs-fault-stop-'));
    const source = join(dir, 'source');
    // 5,000 files: planning their staging takes ~0.1 s, and the log is polled every 10 ms. 8 MB
    // at 256 KiB/s: the whole fetch takes ~30 s, longer than the stop below waits to SIGKILL.
    await generateTree(source, { bytes: 8 * 1024 * 1024, files: 5_000, perDir: 200, seed: 8 });
    const c = await LocalCluster.create({ dir, followers: 1, limits: { uploadBytesPerSec: 256 * 1024 }, extra: { verify: { intervalSec: 0 } } });
    cluster = c;
    const f = c.followers[0]!;
    await c.publish(source);
    c.start(c.publisher);
    c.start(f);
    // Polled closely (waitFor looks every 200 ms): the signal must land while staging is planned.
    const deadline = Date.now() + 60_000;
    while (!/release 1: \d+ objects fetched/.test(await c.log(f))) {
      if (Date.now() > deadline) throw new Error(`no objects fetched in 60 s:\n${await c.log(f)}`);
      await sleep(10);
    }
    const proc = f.proc!;
    // Patient: a node's own shutdown (leaving the DHT) may take seconds on a loaded machine.
    await c.stop(f, 'SIGTERM', 20_000);
    const log = await c.log(f);
    const afterStop = log.slice(log.indexOf('SIGTERM: stopping'));
    // Exited by itself, and no piece transfer began once it was told to stop.
    expect(proc.signalCode, log).toBeNull();
    expect(proc.exitCode).toBe(0);
    expect(afterStop).toMatch(/stopped in \d+\.\d s/);
    expect(afterStop, log).not.toMatch(/release 1: (fetching \d+ of|all pieces received)/);
    // The restart is not throttled: it only has to show that nothing was lost.
    await c.stop(c.publisher);
    await editConfig(c.publisher, (cfg) => { cfg.limits.uploadBytesPerSec = 0; });
    c.start(c.publisher);
    const logFrom = log.length;
    c.start(f);
    await c.waitLive([f], 1, 90_000);
    expect((await c.log(f)).slice(logFrom)).toMatch(/release 1 staged/);
    meta.bytesLost = await sumBytesLost(source, [f]);
    meta.notes = ['SIGTERM right after the objects were in: exited at once, live after the restart'];
    expect(meta.bytesLost).toBe(0);
  }, 180_000);
});
