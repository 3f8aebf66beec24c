import { ChunkswarmError, isChunkswarmError, LstatAhead, silentLogger, type Clock, type Logger } from '../core/index.js';
import type { Config } from '../config/index.js';
import { ExpansionMemo, measureExpansion, type SignedRelease, type TreeEntry } from '../manifest/index.js';
import { ChunkIndex, InodeCache, ObjectStore, ReleaseStore, type NodeState } from '../store/index.js';
import { activate, recover, type ActivateOptions, type ActivateResult } from './activate.js';
import { driftSignature, hasDrift, latestDrift, recordDrift, type DriftRecord, type DriftReport } from './drift.js';
import { collectGarbage, objectsKeptNote, type GcResult } from './gc.js';
import { recycleRelease } from './recycle.js';
import { sealRoot } from './finalize-tree.js';
import { checkFreshTarget, FRESH_MS } from './fresh-check.js';
import { adoptable, asidePath, currentLive, foreignLive, inspectLive, type LiveLink } from './live.js';
import { driftedInodes, repairRelease, repairReplaced, type RepairContext } from './release-repair.js';
import type { ChunkSource } from './local-source.js';
import { loadPacks, treePackName } from './release-files.js';
import { ownerOf } from './stage-fs.js';
import { Stager, type StagerOptions } from './stager.js';
import { verifyTree } from './verify.js';
import type { VerifyResult } from './verify-result.js';

/** state.json as deploy sees it: the store's fields plus the acknowledged drift. */
export interface DeployState extends NodeState {
  /** driftSignature() of the drift `chunkswarm drift ack` accepted (policy "block"). */
  driftAck?: string | null;
}

export interface DeployResult extends ActivateResult {
  /** The drift found in the live tree and recorded before it was replaced. */
  drift: DriftRecord | null;
  /** What staging did in this call; null when the release was already materialized. */
  staged: StageStats | null;
}

export interface StageStats {
  pieces: number;
  linkedFiles: number;
  /** The retained release whose tree the new one was staged in (it replaced it), or null: a new directory. */
  recycledFrom: number | null;
  /** Files of that tree kept without an lstat of their own: the live release's inodes at the same path, checked with the live tree. */
  keptShared: number;
  /** Pieces copied from this node's own release files. */
  fromLocal: number;
  /** Pieces taken from the `source`. */
  fromSource: number;
}

/** Whether a node in this state may activate `version` by itself: not pinned, and newer than live. */
export function canActivate(state: NodeState, version: number): boolean {
  return !state.pinned && (state.live === null || version > state.live);
}

export interface DeployerOptions {
  log?: Logger;
  clock?: Clock;
  /** Aborted when the node stops: a hook still running is killed rather than waited for. */
  signal?: AbortSignal;
  /**
   * Told the outcome of each check of the live tree that an activation makes before the switch:
   * a node that drift blocks (policy "block") retries that check and no other, and its reported
   * drift would stay what it was before the hand edit.
   */
  onLiveCheck?: (found: VerifyResult) => void;
}

/**
 * One node's deploy side: verify the live tree, stage releases (the session feeds pieces), activate
 * under the drift policy, roll back, pin, collect garbage. Opening it repairs what a crash left.
 */
export class Deployer {
  readonly releases: ReleaseStore;
  readonly objects: ObjectStore;
  readonly chunkIndex: ChunkIndex;
  /** What open() repaired. */
  recovered: string[] = [];
  private readonly log: Logger;
  /** Chunks already reported missing: peers ask for the same piece again and again. */
  private readonly missingReported = new Set<string>();
  /** The release this deployer staged last: checked at the cost of what changed if it goes live right away. */
  private lastStaged: Stager | null = null;
  /** The trees of the release staged last: the next one's bomb check walks only what it changed. */
  private readonly expansions = new ExpansionMemo();

  private constructor(
    readonly config: Config,
    private readonly opts: DeployerOptions,
    /** What each inode of the releases was last verified to hold. */
    readonly inodes: InodeCache,
  ) {
    this.releases = new ReleaseStore(config.dataDir);
    this.objects = new ObjectStore(this.releases.objectsDir);
    this.log = opts.log ?? silentLogger;
    this.chunkIndex = new ChunkIndex({
      releases: this.releases,
      objects: this.objects,
      onTampered: (loc) => this.log.warn(`${loc.path} no longer matches its release (edited on disk); it is not used as a chunk source`),
      onMissing: (hash, why) => {
        if (this.missingReported.has(hash)) return;
        if (this.missingReported.size >= 1024) this.missingReported.clear();
        this.missingReported.add(hash);
        this.log.warn(`chunk ${hash.slice(0, 12)} is in no retained release (${why}): the pieces holding it are refused to peers`);
      },
    });
  }

  static async open(config: Config, opts: DeployerOptions = {}): Promise<Deployer> {
    const d = new Deployer(config, opts, await InodeCache.open(config.dataDir));
    await d.releases.init();
    d.recovered = await recover(config, d.releases, d.log);
    return d;
  }

  async state(): Promise<DeployState> {
    return (await this.releases.state()) as DeployState;
  }

  live(): Promise<{ version: number; dir: string } | null> {
    return currentLive(this.config.livePath, this.releases);
  }

  /** The live release, null where livePath is not chunkswarm's yet: staging needs none (only the switch does). */
  private async liveRelease(): Promise<{ version: number; dir: string } | null> {
    const link = await inspectLive(this.config.livePath, this.releases);
    return link.state === 'release' ? link : null;
  }

  /** What livePath is; refused (before anything else) where it is not chunkswarm's and may not be taken over (`adoptLive`). */
  private async inspectLive(): Promise<LiveLink> {
    const link = await inspectLive(this.config.livePath, this.releases);
    if (link.state === 'foreign' && (!this.config.adoptLive || !adoptable(link))) throw foreignLive(this.config.livePath, link, this.releases);
    return link;
  }

  /** Compares the live tree to its release (quick: stat cache first; deep: hash everything). */
  async verify(o: { deep?: boolean; clean?: Map<number | string, TreeEntry> } = {}): Promise<VerifyResult> {
    const live = await this.live();
    if (!live) {
      throw new ChunkswarmError(
        'E_NOT_FOUND',
        `no live release to verify: ${this.config.livePath} does not exist yet (a release goes live with "chunkswarm serve" or "chunkswarm activate VERSION")`,
      );
    }
    return this.verifyRelease(live.version, !!o.deep, o.clean);
  }

  private async verifyRelease(version: number, deep = false, clean?: Map<number | string, TreeEntry>): Promise<VerifyResult> {
    const head = await this.releases.head(version);
    return verifyTree({
      dir: this.releases.releasePath(version), version, root: head.body.root, objects: this.objects, cache: this.inodes, deep, owner: ownerOf({}),
      ...(clean && { clean }),
    });
  }

  /**
   * Opens (or resumes) the staging of a release whose objects are all local. Every hard-link donor
   * and chunk source is checked against the inode cache first: a drifted file is never linked into
   * the new release nor read as a chunk.
   */
  async stage(release: SignedRelease, o: Pick<StagerOptions, 'flushEvery' | 'onFlush' | 'deferPacks'> = {}): Promise<Stager> {
    const lim = this.config.limits;
    const live = await this.liveRelease();
    // Measuring reads every file object: from one pack file, not 10^5 object files.
    const like = live === null ? null : await this.releases.head(live.version).then((h) => h.body.root, () => null);
    loadPacks(this.objects, release.body.root, like);
    // Before anything walks it path by path: a release of shared subtrees can expand to millions.
    const size = await measureExpansion(release.body.root, (h) => this.objects.getTree(h), (h) => this.objects.getFile(h), {
      maxPaths: lim.maxReleasePaths, maxBytes: lim.maxReleaseBytes, maxDepth: lim.maxReleaseDepth,
    }, this.expansions);
    // The live tree, about as large, is checked once this release is staged: its helper thread starts meanwhile.
    if (live !== null) LstatAhead.warm(size.paths);
    const recycled = await recycleRelease({
      releases: this.releases, chunkIndex: this.chunkIndex, version: release.body.version, keep: this.config.releases.keep,
      protect: await this.protectedReleases(),
    });
    if (recycled !== null) this.log.info(`staging release ${release.body.version} in the tree of release ${recycled}, which it replaces`);
    this.lastStaged = await Stager.open({
      ...o, release, releases: this.releases, objects: this.objects, inodes: this.inodes, ...(recycled !== null && { recycledFrom: recycled }),
      liveVersion: live?.version ?? null, ...(this.opts.clock && { clock: this.opts.clock }),
    });
    return this.lastStaged;
  }

  /**
   * Makes a materialized release live, applying drift.policy to what was changed by hand in the
   * current live tree. A pinned node refuses unless `allowPinned` (rollback).
   *
   * Releases share the inodes of unchanged files, so a hand edit of a live file reaches the
   * retained and staged releases too. Right before the switch the target is checked (lstat speed)
   * and put back to its signed content; right after, the replaced release and every other holder of
   * a drifted inode are healed. E_NOT_FOUND, naming the files, when the target lost files that no
   * clean copy on this node can replace: it was moved back to staging, to be fetched again.
   */
  async activate(version: number, o: { pin?: boolean; allowPinned?: boolean } = {}): Promise<DeployResult> {
    const state = await this.state();
    const link = await this.inspectLive();
    const live = link.state === 'release' ? link : null;
    this.refusePinned(state, version, live?.version ?? null, o.allowPinned);
    let drift: DriftRecord | null = null;
    let adopt: ActivateOptions['adopt'];
    if (link.state === 'foreign') {
      const keptAt = link.kind === 'symlink' ? link.target : await asidePath(this.config.livePath);
      drift = await this.recordAdopted(version, { what: link.what, keptAt });
      adopt = link.kind === 'directory' ? { aside: keptAt } : {};
    }
    let ackUsed = false;
    let liveDrift: VerifyResult | null = null;
    const liveClean = new Map<number | string, TreeEntry>();
    if (live && live.version !== version) {
      const found = await this.verify({ clean: liveClean });
      this.opts.onLiveCheck?.(found);
      const policy = this.config.drift.policy;
      if (hasDrift(found)) {
        const acked = policy === 'block' && state.driftAck === driftSignature(found);
        if (!acked) {
          drift = await recordDrift({
            releases: this.releases, livePath: this.config.livePath, verify: found, policy, replacedBy: version, copy: policy !== 'overwrite',
          });
        }
        const what = countsText(found);
        if (policy === 'block' && !acked) {
          throw new ChunkswarmError(
            'E_DRIFT',
            `the live release ${live.version} was changed by hand (${what}), recorded in ${drift!.dir}; ` +
              `policy "block" keeps it live: review it, then run "chunkswarm drift ack" to let release ${version} replace it`,
          );
        }
        ackUsed = acked;
        liveDrift = found;
        this.log.warn(`live release ${live.version} was changed by hand (${what}); ${drift ? `recorded in ${drift.dir}` : 'acknowledged'}; release ${version} replaces it`, { release: live.version });
      }
    }
    if (live?.version !== version && (await this.releases.materialized()).includes(version)) await this.cleanTarget(version, liveClean, liveDrift);
    const result = await activate({
      config: this.config, releases: this.releases, version, log: this.log, ...(o.pin !== undefined && { pin: o.pin }), ...(adopt && { adopt }),
      ...(this.opts.signal && { signal: this.opts.signal }),
    });
    if (ackUsed || state.driftAck) await this.releases.saveState({ ...(await this.state()), driftAck: null } as DeployState);
    if (liveDrift && result.switched && result.previous !== null) {
      await repairReplaced(this.repairContext(), result.previous, version, liveDrift).catch((err) => {
        this.log.warn(`release ${result.previous} keeps hand edits after it was replaced: ${err instanceof Error ? err.message : String(err)}`, { release: result.previous ?? undefined });
      });
    }
    const root = (await this.releases.head(version)).body.root;
    this.objects.trim({ root, packs: [root, treePackName(root)] });
    return { ...result, drift, staged: null };
  }

  /**
   * What stood at livePath before chunkswarm takes it over, compared with the release about to take
   * its place, and what differs recorded as drift (under the policy, as a live tree's hand edits
   * are) before anything is moved. Every file is hashed: nothing vouches for inodes that no release
   * made. Adopting is the operator's own choice (`adoptLive`), and the tree is kept whole, so
   * policy "block" does not hold it back.
   */
  private async recordAdopted(version: number, adopted: NonNullable<DriftReport['adopted']>): Promise<DriftRecord | null> {
    const head = await this.releases.head(version);
    const found = await verifyTree({
      dir: this.config.livePath, version, root: head.body.root, objects: this.objects, cache: InodeCache.memory(), deep: true, owner: ownerOf({}), recordedModes: true,
    });
    if (!hasDrift(found)) return null;
    const policy = this.config.drift.policy;
    const record = await recordDrift({
      releases: this.releases, livePath: this.config.livePath, verify: found, policy, replacedBy: version, copy: policy !== 'overwrite', adopted,
    });
    this.log.warn(`${this.config.livePath} (${adopted.what}) differs from release ${version}, which takes its place: ${countsText(found)}; recorded in ${record.dir}`, { release: version });
    return record;
  }

  /**
   * The release about to go live, checked against its signed content and put back where it
   * differs. What it holds that the live tree's drift record did not already preserve is recorded.
   */
  private async cleanTarget(version: number, liveClean: ReadonlyMap<number | string, TreeEntry>, liveDrift: VerifyResult | null): Promise<void> {
    const dir = this.releases.releasePath(version);
    await sealRoot(dir);
    const s = this.lastStaged;
    this.lastStaged = null;
    const fresh = s?.version === version && s.completedAt !== null && Date.now() - s.completedAt < FRESH_MS;
    const found = fresh
      ? await checkFreshTarget({ dir, version, actions: s.actions, liveClean, liveDrift, objects: this.objects, inodes: this.inodes, owner: ownerOf({}) })
      : await this.verifyRelease(version);
    s?.forgetPlan();
    if (!hasDrift(found)) return;
    const preserved = new Set(liveDrift ? driftedInodes(liveDrift.entries) : []);
    const own = found.entries.filter((e) => !(e.new?.inode && preserved.has(e.new.inode)));
    const policy = this.config.drift.policy;
    if (own.length > 0) {
      const counts = { added: 0, removed: 0, modified: 0, meta: 0, type: 0 };
      for (const e of own) counts[e.kind]++;
      const record = await recordDrift({
        releases: this.releases, livePath: found.dir, verify: { ...found, entries: own, counts }, policy, replacedBy: null, copy: policy !== 'overwrite',
      });
      this.log.warn(`release ${version} was changed on disk before it went live (${own.length} paths); recorded in ${record.dir}`, { release: version });
    }
    const tainted = [...preserved, ...driftedInodes(found.entries)];
    const lost = await repairRelease(this.repairContext(), version, found.entries, tainted);
    if (lost.length > 0) {
      throw ChunkswarmError.notFound(
        `the clean content of release ${version}'s ${lost.join(', ')} on this node (edited by hand through an inode shared with another release). ` +
          `Release ${version} was moved back to staging: its missing pieces must be fetched again (a running node does it; or "activate ${version} --source-data DIR")`,
      );
    }
  }

  /**
   * Why an older release cannot be made live from this node's own data, and what does it: the
   * swarm carries only the newest release, so pieces this node lost (hand-edited files taken out
   * of a retained release) come back with a release that is newest again.
   */
  private async notWhole(version: number, stager: Stager, err: ChunkswarmError): Promise<ChunkswarmError> {
    return new ChunkswarmError(
      'E_NOT_FOUND',
      `release ${version} is not whole on this node: ${stager.missing().length} of its ${stager.pieces.length} pieces are missing ` +
        `(files edited by hand were taken out of it, or it was never fetched whole), ` +
        `and nodes fetch only the newest release from their peers. To go back to it everywhere, run "chunkswarm republish ${version}" on the master; ` +
        (await this.wholeBesides(version)),
      { cause: err },
    );
  }

  /** The releases an operator can go back to on this node instead of `version`. */
  private async wholeBesides(version: number): Promise<string> {
    const whole = (await this.releases.materialized()).filter((v) => v !== version);
    return whole.length > 0 ? `releases whole on this node: ${whole.join(', ')}` : 'no other release is whole on this node';
  }

  /**
   * Why an older release whose tree was collected cannot be staged again: gc kept the objects of
   * the newest releases only (collectGarbage), and peers serve only the newest one's.
   */
  private async objectsGone(version: number, err: ChunkswarmError): Promise<ChunkswarmError> {
    return new ChunkswarmError(
      'E_NOT_FOUND',
      `release ${version} cannot be staged again on this node: ${err.message}, and ${objectsKeptNote(this.config.releases.keep)}, and peers serve only the newest one's. ` +
        `To go back to its content everywhere, publish its source again on the master; ${await this.wholeBesides(version)}`,
      { cause: err },
    );
  }

  private repairContext(): RepairContext {
    return { releases: this.releases, objects: this.objects, chunkIndex: this.chunkIndex, inodes: this.inodes, owner: ownerOf({}), log: this.log };
  }

  /**
   * Stages a release from what is on this node (plus `source`, e.g. another data dir) and activates
   * it. E_NOT_FOUND lists how many pieces only the swarm has.
   */
  async deploy(version: number, o: { source?: ChunkSource; pin?: boolean; allowPinned?: boolean } = {}): Promise<DeployResult> {
    try {
      return await this.stageAndActivate(version, o);
    } catch (err) {
      // The target lost hand-edited files and went back to staging: the source may have them.
      if (!o.source || !isChunkswarmError(err, 'E_NOT_FOUND') || (await this.releases.materialized()).includes(version)) throw err;
      this.log.warn(`${err.message}; staging it again`, { code: err.code });
      return this.stageAndActivate(version, o);
    }
  }

  private async stageAndActivate(version: number, o: { source?: ChunkSource; pin?: boolean; allowPinned?: boolean }): Promise<DeployResult> {
    const link = await this.inspectLive();
    const live = link.state === 'release' ? link : null;
    this.refusePinned(await this.state(), version, live?.version ?? null, o.allowPinned);
    let staged: StageStats | null = null;
    if (!(await this.releases.materialized()).includes(version)) {
      const stager = await this.stage(await this.releases.head(version)).catch(async (err: unknown) => {
        throw o.source || !isChunkswarmError(err, 'E_NOT_FOUND') ? err : await this.objectsGone(version, err);
      });
      try {
        if (o.source) await stager.fillFrom(o.source);
        await stager.complete();
      } catch (err) {
        // Keep what was written for the next attempt, but report the first failure (e.g. E_NO_SPACE).
        await stager.close().catch(() => undefined);
        throw o.source || !isChunkswarmError(err, 'E_NOT_FOUND') ? err : await this.notWhole(version, stager, err);
      }
      staged = {
        pieces: stager.pieces.length,
        linkedFiles: stager.linkedFiles,
        recycledFrom: stager.recycledFrom,
        keptShared: stager.keptShared,
        fromLocal: stager.copied,
        fromSource: stager.written,
      };
    }
    return { ...(await this.activate(version, o)), staged };
  }

  /** Back to `version` (default: the newest retained release older than live), then pinned there. */
  async rollback(version?: number): Promise<DeployResult> {
    const live = await this.live();
    let target = version;
    if (target === undefined) {
      if (!live) throw ChunkswarmError.notFound('a live release to roll back from');
      target = (await this.releases.materialized()).filter((v) => v < live.version).pop();
      if (target === undefined) throw ChunkswarmError.notFound(`a retained release older than the live ${live.version}`);
    }
    return this.deploy(target, { pin: true, allowPinned: true });
  }

  async unpin(): Promise<DeployState> {
    const state = { ...(await this.state()), pinned: false };
    await this.releases.saveState(state);
    return state;
  }

  /**
   * Accepts the drift seen now in the live tree (policy "block"); a later change blocks again. What
   * is accepted is preserved first (unless the last record already holds exactly it): the release
   * that replaces the live tree puts every drifted file back.
   */
  async ackDrift(): Promise<{ version: number; entries: number; signature: string }> {
    const found = await this.preserveLiveDrift();
    const signature = driftSignature(found);
    await this.releases.saveState({ ...(await this.state()), driftAck: signature } as DeployState);
    return { version: found.version, entries: found.entries.length, signature };
  }

  /**
   * Checks the live tree and records what was changed by hand, with a copy of every edited or added
   * file, unless the newest record of the live release holds exactly that: what `drift ack`
   * accepts, and what `drift pull` takes from a node before any release has replaced its tree.
   */
  async preserveLiveDrift(): Promise<VerifyResult> {
    const found = await this.verify();
    if (hasDrift(found) && (await latestDrift(this.releases, found.version))?.signature !== driftSignature(found)) {
      await recordDrift({ releases: this.releases, livePath: this.config.livePath, verify: found, policy: this.config.drift.policy, replacedBy: null, copy: true });
    }
    return found;
  }

  async gc(): Promise<GcResult> {
    return collectGarbage({
      releases: this.releases, keep: this.config.releases.keep, protect: await this.protectedReleases(),
      chunkIndex: this.chunkIndex, inodes: this.inodes, objects: this.objects,
    });
  }

  /** Releases whose trees stay whatever releases.keep says: the live one (and the recorded one, if livePath disagrees). */
  private async protectedReleases(): Promise<number[]> {
    const state = await this.state();
    const live = await this.liveRelease();
    return [live?.version, state.live].filter((v): v is number => typeof v === 'number');
  }

  private refusePinned(state: NodeState, version: number, live: number | null, allow?: boolean): void {
    if (state.pinned && !allow && version !== live) {
      throw new ChunkswarmError('E_PINNED', `this node is pinned at release ${live ?? state.live} (rollback); run "chunkswarm unpin" before activating ${version}`);
    }
  }
}

function countsText(v: VerifyResult): string {
  const c = v.counts;
  return `${c.modified} modified, ${c.added} added, ${c.removed} removed, ${c.meta} metadata, ${c.type} type changes`;
}
