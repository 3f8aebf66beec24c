import { ChunkswarmError } from '../core/index.js';
import { importFromDataDir, type DeployResult, type DeployState, type Deployer, type GcResult } from '../deploy/index.js';

/**
 * The operator commands that change what a node should be on. The running `serve` executes them
 * (they arrive over its control socket), or the CLI does when no `serve` holds the data directory:
 * one implementation either way.
 */
export type NodeCommand =
  | { op: 'activate'; version: number; sourceData?: string }
  | { op: 'rollback'; version?: number }
  | { op: 'unpin' }
  | { op: 'drift-ack' }
  | { op: 'gc' };

export interface ActivateOutcome extends DeployResult {
  /** Pinned because an older release than the newest known was asked for (see runNodeCommand). */
  pinned: boolean;
}

export interface NodeCommandResults {
  activate: ActivateOutcome;
  rollback: DeployResult;
  unpin: DeployState;
  'drift-ack': { version: number; entries: number; signature: string };
  gc: GcResult;
}

export type NodeCommandResult = { [Op in keyof NodeCommandResults]: { op: Op; result: NodeCommandResults[Op] } }[keyof NodeCommandResults];

export async function runNodeCommand(d: Deployer, cmd: NodeCommand): Promise<NodeCommandResult> {
  switch (cmd.op) {
    case 'activate': {
      const source = cmd.sourceData
        ? (await importFromDataDir({
            from: cmd.sourceData, version: cmd.version, publisherKey: Buffer.from(d.config.cluster.publisherKey, 'hex'), releases: d.releases, objects: d.objects,
          })).source
        : undefined;
      // A node left unpinned on an older release would move straight back to the newest one.
      const newest = (await d.releases.latest())?.body.version ?? cmd.version;
      const pin = cmd.version < newest;
      const r = await d.deploy(cmd.version, { ...(source && { source }), ...(pin && { pin: true, allowPinned: true }) });
      return { op: 'activate', result: { ...r, pinned: pin } };
    }
    case 'rollback':
      return { op: 'rollback', result: await d.rollback(cmd.version) };
    case 'unpin':
      return { op: 'unpin', result: await d.unpin() };
    case 'drift-ack':
      return { op: 'drift-ack', result: await d.ackDrift() };
    case 'gc':
      return { op: 'gc', result: await d.gc() };
    default:
      throw ChunkswarmError.usage(`unknown node command ${JSON.stringify((cmd as { op: unknown }).op)}`);
  }
}
