import { describe, expect, it } from 'vitest';
import { SerialQueue, type Logger } from '../../src/core/index.js';
import type { Deployer, DeployResult } from '../../src/deploy/index.js';
import { followerRole } from '../../src/session/roles.js';

function logger(lines: string[]): Logger {
  const at = (level: string) => (msg: string) => void lines.push(`${level}: ${msg}`);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger;
}

/** A deployer that activates whatever it is asked to, with the warnings given (a failed postActivate, say). */
function deployer(warnings: string[], calls: number[]): Deployer {
  return {
    state: async () => ({ live: 1, pinned: false }),
    activate: async (version: number) => {
      calls.push(version);
      return { version, previous: 1, switched: true, preActivate: null, postActivate: null, warnings, drift: null, staged: null } satisfies DeployResult;
    },
    gc: async () => ({ removed: [], freedBytes: 0 }),
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
});
