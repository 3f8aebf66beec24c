import { isChunkswarmError, type Logger } from '../core/index.js';
import type { Deployer, VerifyResult } from '../deploy/index.js';
import type { NodeStatusReport } from './status.js';

/**
 * The follower's periodic quick verify of its live tree (verify.intervalSec): a hand edit is
 * reported in the log and in status.json as soon as it is seen, not only at the next activation.
 */
export class PeriodicVerify {
  /** The last result, for status.json. */
  report: NodeStatusReport['verify'] = null;
  private last = 0;

  constructor(
    private readonly o: { everyMs: number; deployer: Deployer; log: Logger; fail: (err: unknown) => void },
  ) {}

  /** Runs a verify if one is due; only a seeding follower has a settled live tree to check. */
  async maybeRun(seeding: boolean): Promise<void> {
    if (this.o.everyMs === 0 || !seeding || Date.now() - this.last < this.o.everyMs) return;
    this.last = Date.now();
    try {
      this.record(await this.o.deployer.verify());
    } catch (err) {
      if (!isChunkswarmError(err, 'E_NOT_FOUND')) this.o.fail(err);
    }
  }

  /**
   * A release was just made live, and activation checked every file of it against the release
   * just before the switch (and repaired what differed): the live tree matches its release now,
   * so the next verify is due an interval later. Run at once, it repeated that pass over every
   * file while the rest of the cluster was still staging (0.6 s of a follower's 6 CPU-s in a
   * 20,000-file cold rollout).
   */
  activated(): void {
    this.last = Date.now();
    this.report = { at: new Date(this.last).toISOString(), added: 0, removed: 0, changed: 0 };
  }

  /**
   * A verify's outcome, this one's, an operator's (`chunkswarm verify` run by the node) or an
   * activation's check before the switch: reported alike. `log`: false where the caller tells the
   * drift itself (an activation does).
   */
  record(r: VerifyResult, o: { log?: boolean } = {}): void {
    const c = r.counts;
    this.report = { at: new Date().toISOString(), added: c.added, removed: c.removed, changed: c.modified + c.meta + c.type };
    if ((o.log ?? true) && c.added + c.removed + c.modified + c.meta + c.type > 0) {
      this.o.log.warn(`live release ${r.version} differs from its release: ${c.modified} modified, ${c.added} added, ${c.removed} removed, ${c.meta + c.type} other`, { release: r.version });
    }
  }
}
