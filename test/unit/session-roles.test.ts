import { describe, expect, it } from 'vitest';
import { SerialQueue, type Logger } from '../../src/core/index.js';
import type { Deployer, DeployResult } from '../../src/deploy/index.js';
import { followerRole } from '../../src/session/roles.js';

function logger(lines: string[]): Logger {
  const at = (level: string) => (msg: string) => void lines.push(`${level}: ${msg}`);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger;
}

/** A deployer that activates whatever it is asked to, with the warnings given (a failed postActivate, say). */
function deployer(warnings: string[], calls: number[], gc: () => Promise<unknown> = async () => ({ removed: [], freedBytes: 0, objects: null })): Deployer {
  return {
    state: async () => ({ live: 1, pinned: false }),
    activate: async (version: number) => {
      calls.push(version);
      return { version, previous: 1, switched: true, preActivate: null, postActivate: null, warnings, drift: null, staged: null } satisfies DeployResult;
    },
    gc,
  } as unknown as Deployer;
}

describe('followerRole', () => {
  it("logs the activation's warnings: a postActivate that failed or was killed leaves the release live, and the operator must hear of it", async () => {
    const lines: string[] = [];
    const calls: number[] = [];
    let activated = 0;
    const role = followerRole({ deployer: deployer(['postActivate hook exited 1; release 2 stays live'], calls), serial: new SerialQueue(), log: logger(lines), activated: () => activated++ });
    await role.settle(2);
    expect(calls).toEqual([2]);
    expect(activated).toBe(1);
    expect(lines).toContain('warn: postActivate hook exited 1; release 2 stays live');
  });

  it('logs what gc did after an activation, and a gc that failed (a full disk) instead of dropping it', async () => {
    const lines: string[] = [];
    const compacted = async () => ({ removed: [{ version: 1, freedBytes: 10 }], freedBytes: 10, objects: { files: 2, bytesBefore: 52_200_000, bytesAfter: 16_500_000, kept: 90, dropped: 2873 } });
    await followerRole({ deployer: deployer([], [], compacted), serial: new SerialQueue(), log: logger(lines), activated: () => undefined }).settle(2);
    expect(lines).toContain('info: gc: removed releases 1, freed 10 bytes');
    expect(lines).toContain('info: gc: object journals compacted: 52.2 MB in 2 files -> 16.5 MB; 2873 objects of releases no longer on disk dropped');
    const failing = async () => {
      throw new Error('E_NO_SPACE: compacting the object journals in /data/objects/journal: no space left on the device');
    };
    await followerRole({ deployer: deployer([], [], failing), serial: new SerialQueue(), log: logger(lines), activated: () => undefined }).settle(3);
    expect(lines).toContain('warn: gc after release 3 failed: E_NO_SPACE: compacting the object journals in /data/objects/journal: no space left on the device');
  });
});
