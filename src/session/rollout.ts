import { Bitfield, isChunkswarmError, systemClock, type Logger, type ObjectHash, type ReleaseId, type SerialQueue } from '../core/index.js';
import type { Config } from '../config/index.js';
import { releaseId, type Piece, type SignedRelease } from '../manifest/index.js';
import { saveReleasePacks, servedPieces, type Deployer, type Stager } from '../deploy/index.js';
import { Download } from './download.js';
import type { PeerStanding } from './peer-standing.js';
import type { HeadBook } from './heads.js';
import { fetchObjects, requestObject, type ObjectSources } from './object-fetch.js';
import type { PeerTable } from './peer-table.js';
import type { PieceServer } from './piece-server.js';
import type { AttemptOutcome } from './retry-loop.js';
import type { Role } from './roles.js';
import type { Phase } from './status.js';
import type { UploadPolicy } from './upload-policy.js';

const OBJECT_TIMEOUT_MS = 10_000;
/** Then the attempt fails, visibly in status, and the retry loop tries again later. */
const OBJECT_GIVE_UP_MS = 60_000;
/** How long a release is served whole without a newer one before its packs are made (packLater). */
const PACK_DELAY_MS = 10_000;

export interface RolloutOptions {
  config: Config;
  role: Role;
  deployer: Deployer;
  heads: HeadBook;
  server: PieceServer;
  upload: UploadPolicy;
  peers: PeerTable;
  /** Deploy operations (stage completion, activation, operator commands) run one at a time. */
  serial: SerialQueue;
  random: () => number;
  log: Logger;
  closed: () => boolean;
}

/**
 * One node's way to the newest signed release: objects, then pieces into staging, then what its
 * role does with a staged release (a follower activates it), then serving it whole. attempt() is
 * idempotent: the RetryLoop calls it again after any failure and it picks up where things are.
 */
export class Rollout {
  phase: Phase = 'starting';
  objectsFetched = 0;
  private dl: Download | null = null;
  /** How each peer has answered our piece requests, over every release's download (Download's standings). */
  private readonly standings = new Map<string, PeerStanding>();
  /** The release served whole from its files (materialized), as opposed to one being staged. */
  private servedWhole: ReleaseId | null = null;
  /** The root of the release last served whole: the next one's packs copy most of their records from its packs. */
  private servedRoot: ObjectHash | null = null;
  private packTimer: NodeJS.Timeout | null = null;
  /** Operator commands holding the rollout back (hold()). */
  private holds = 0;

  constructor(private readonly o: RolloutOptions) {}

  get download(): Download | null {
    return this.dl;
  }

  /** A newer head arrived: the transfer in progress is for a superseded release. */
  supersede(): void {
    this.dl?.stop();
  }

  stop(): void {
    this.dl?.stop();
    if (this.packTimer) clearTimeout(this.packTimer);
  }

  /**
   * An operator's activate or rollback stages and switches releases itself: a staging of the
   * rollout's in the same directory would rewrite what the command wrote (activate --source-data of
   * the newest release puts its head where the rollout finds it). The download in progress stops,
   * keeping what it wrote, and attempts wait until every hold is let go.
   */
  hold(): void {
    this.holds++;
    this.dl?.stop();
  }

  letGo(): void {
    this.holds = Math.max(0, this.holds - 1);
  }

  /**
   * Makes the packs of the release served whole once it has been served for PACK_DELAY_MS without
   * a newer one, so that the next start reads one file instead of one per object (10^5 such reads
   * took a publisher of 100,000 files 1.1 s of its start). Not at once: writing them takes the
   * publisher ~0.2 s per release of 10^5 files, which followers fetching that release would wait,
   * and a follower that staged it ~0.1 s per 20,000 files, which its switch would wait (the other
   * followers too, on a machine they share).
   */
  private packLater(root: ObjectHash, like: ObjectHash | null): void {
    if (this.packTimer) clearTimeout(this.packTimer);
    this.packTimer = setTimeout(() => {
      this.packTimer = null;
      if (this.servedRoot !== root) return;
      // Not while a newer release is fetched or staged: that one would wait for these writes.
      if (this.phase !== 'seeding' && this.phase !== 'idle') return this.packLater(root, like);
      void this.o.serial.run(async () => {
        if (this.servedRoot !== root) return;
        await saveReleasePacks(this.o.deployer.objects, root, like);
      }).catch((err: unknown) => {
        this.o.log.warn(`the packs of release ${root.slice(0, 12)} were not saved (${err instanceof Error ? err.message : String(err)}); the next start reads its objects one by one`);
      });
    }, PACK_DELAY_MS);
    this.packTimer.unref();
  }

  async attempt(): Promise<AttemptOutcome> {
    if (this.holds > 0) return 'waiting';
    const target = this.o.heads.latest;
    if (!target) {
      this.phase = 'idle';
      return 'done';
    }
    const id = releaseId(target.body);
    const sources = this.objectSources(target, id);
    const objects = this.o.deployer.objects;
    // An object damaged on disk (or lost) under a tree object that is present is fetched again
    // from the peers while this release is worked on, instead of failing every retry.
    objects.refetch = (h, why) => {
      this.o.log.warn(`${why.message}: fetching object ${h.slice(0, 12)} again from peers`, { code: why.code });
      return requestObject(h, sources);
    };
    try {
      return await this.work(target, id, sources);
    } finally {
      objects.refetch = null;
    }
  }

  private async work(target: SignedRelease, id: ReleaseId, sources: ObjectSources): Promise<AttemptOutcome> {
    const v = target.body.version;
    let staged: readonly Piece[] | null = null;
    if (!(await this.o.deployer.releases.materialized()).includes(v)) {
      const stager = await this.fetch(target, sources);
      if (!stager) return 'waiting';
      // A node told to stop once every piece is in finishes the staging when it starts again.
      if (this.o.closed()) {
        await stager.close();
        return 'waiting';
      }
      this.phase = 'activating';
      await this.o.serial.run(() => stager.complete());
      this.o.log.info(`release ${v} staged (${stager.written} pieces fetched, ${stager.copied} copied locally)`, { release: v });
      staged = stager.pieces;
    }
    // Seeded whole before it is activated: a release blocked by drift still helps the others.
    if (this.servedWhole !== id) {
      const { objects } = this.o.deployer;
      // Staging has the piece space already (and left the packs to packLater): walking every file
      // object again would delay activation.
      const { pieces, packed } = staged ? { pieces: staged, packed: false } : await servedPieces(objects, target.body.root);
      this.o.server.serveRelease(id, pieces);
      this.o.upload.setSpace({ release: id, version: v, have: Bitfield.full(pieces.length), bytes: pieces.reduce((n, p) => n + p.size, 0), pieces });
      this.servedWhole = id;
      if (!packed) this.packLater(target.body.root, this.servedRoot);
      this.servedRoot = target.body.root;
    }
    this.phase = 'activating';
    await this.o.role.settle(v);
    this.phase = 'seeding';
    return 'done';
  }

  private superseded(target: SignedRelease): boolean {
    return this.o.closed() || this.holds > 0 || this.o.heads.latest?.body.version !== target.body.version;
  }

  /** Where the objects of `target` are asked for. */
  private objectSources(target: SignedRelease, id: ReleaseId): ObjectSources {
    const { peers } = this.o;
    return {
      release: id,
      peers: () => peers.list(),
      random: this.o.random,
      timeoutMs: OBJECT_TIMEOUT_MS,
      giveUpMs: OBJECT_GIVE_UP_MS,
      cancelled: () => this.superseded(target),
      wrongObject: (p, hash) => peers.ban(p, `sent a wrong object for ${hash}`),
    };
  }

  /** Objects, then pieces, of a release this node lacks. Null if a newer head superseded it. */
  private async fetch(target: SignedRelease, sources: ObjectSources): Promise<Stager | null> {
    const { config, peers } = this.o;
    const id = sources.release;
    this.phase = 'objects';
    const got = await fetchObjects(target.body.root, this.o.deployer.objects, (h) => requestObject(h, sources));
    this.objectsFetched += got.fetched;
    if (got.fetched > 0) this.o.log.info(`release ${target.body.version}: ${got.fetched} objects fetched (${got.bytes} bytes)`, { release: target.body.version });
    if (this.superseded(target)) return null;
    // Planning and recycling a tree move release directories, as gc and operator commands do.
    // Its packs are made once it has been served a while (packLater), off the way to the switch.
    const stager = await this.o.serial.run(() => this.o.deployer.stage(target, { deferPacks: true }));
    // Stopped (or superseded) while staging was planned: stop() found no download to stop, and
    // one started now would run to its end before the node could exit.
    if (this.superseded(target)) {
      await stager.close();
      return null;
    }
    this.o.server.serve(id, (i, alloc, range) => stager.readPiece(i, alloc, range));
    this.o.upload.setSpace({ release: id, version: target.body.version, have: new Bitfield(stager.pieces.length, stager.bitfield()) });
    this.servedWhole = null;
    this.phase = 'pieces';
    // These two lines (timestamped by `serve`) delimit the pieces phase; bench/transfer reads them.
    const missing = stager.missing();
    const missingBytes = missing.reduce((n, i) => n + stager.pieces[i]!.size, 0);
    // The parts this node lacks (peers that take only whole pieces send those).
    const wantedBytes = missing.reduce((n, i) => n + stager.wantedRange(i).length, 0);
    const partly = wantedBytes < missingBytes ? `, parts of pieces of ${missingBytes} bytes` : '';
    this.o.log.info(`release ${target.body.version}: fetching ${missing.length} of ${stager.pieces.length} pieces (${wantedBytes} bytes${partly})`, { release: target.body.version });
    const dl = new Download({
      stager,
      clock: systemClock,
      random: this.o.random,
      scheduler: {
        maxRequestsPerPeer: config.limits.maxRequestsPerPeer,
        requestTimeoutMs: config.limits.requestTimeoutMs + 2000,
        unresponsiveMs: config.limits.requestTimeoutMs,
        // Half a second of the download cap in flight (a peer's first request may take it to a
        // second, see SchedulerOptions.maxInflightBytes) keeps it busy. A request past it waits in
        // an uploader's queue or our own download, where a piece is not yet relayed, and holds an
        // upload turn another node could use (bench/sim, N=100: 1.43x the bound against 1.51x with 2 s).
        ...(config.limits.downloadBytesPerSec > 0 && { maxInflightBytes: 0.5 * config.limits.downloadBytesPerSec }),
      },
      onPiece: (i) => {
        if (this.o.upload.space?.release === id) this.o.upload.gained(i);
      },
      standings: this.standings,
      onBan: (p, reason) => peers.ban(p, reason),
      onStall: (p, reason) => void peers.probe(p, reason, target.body.root),
      log: this.o.log,
    });
    this.dl = dl;
    for (const p of peers.list()) dl.addPeer(p);
    try {
      await dl.done;
      this.o.log.info(`release ${target.body.version}: all pieces received (${dl.duplicates} end-game duplicates)`, { release: target.body.version });
      return stager;
    } catch (err) {
      // Keep what was written for the next attempt, whatever stopped this one.
      await stager.close().catch(() => undefined);
      // Stopped for a newer release or a shutdown: nothing failed.
      if (isChunkswarmError(err, 'E_CLOSED')) return null;
      throw err;
    } finally {
      this.dl = null;
      dl.stop();
    }
  }
}
