import type { Logger, SerialQueue } from '../core/index.js';
import { canActivate, compactionText, type Deployer } from '../deploy/index.js';

/**
 * What sets the publisher and a follower apart once a release is on disk. Everything else (finding
 * peers, fetching, staging, seeding) is the same program on every node.
 */
export interface Role {
  /** Holds the publisher key: tells peers so, super-seeds, never makes a release live. */
  readonly publisher: boolean;
  /** Brings the node's live tree in line with materialized release `version`, if it should be. */
  settle(version: number): Promise<void>;
}

/** The master: its releases are made by `publish`; it only serves them. */
export const publisherRole: Role = {
  publisher: true,
  settle: async () => undefined,
};

/**
 * A frontend: makes each newer release live (under the drift policy) unless pinned, then collects
 * garbage. `activated` is told each time it makes a release live.
 */
export function followerRole(o: { deployer: Deployer; serial: SerialQueue; log: Logger; activated: () => void }): Role {
  return {
    publisher: false,
    settle: (version) =>
      o.serial.run(async () => {
        if (!canActivate(await o.deployer.state(), version)) return;
        const r = await o.deployer.activate(version);
        // A failed postActivate (the release stays live) is the operator's to hear of: the step itself succeeded.
        for (const w of r.warnings) o.log.warn(w, { release: version });
        if (r.switched) o.activated();
        // A failed gc (a full disk) costs only space, and is tried again after the next activation.
        const gc = await o.deployer.gc().catch((err: unknown) => {
          o.log.warn(`gc after release ${version} failed: ${err instanceof Error ? err.message : String(err)}`, { release: version });
          return null;
        });
        if (gc && gc.removed.length > 0) {
          o.log.info(`gc: removed releases ${gc.removed.map((r) => r.version).join(', ')}, freed ${gc.freedBytes} bytes`);
        }
        if (gc?.objects) o.log.info(`gc: ${compactionText(gc.objects)}`);
      }),
  };
}
