import { publish, scanAhead, type PrescanCommand, type PublishCommand, type PublishProgress, type PublishSummary, type SourceScan } from '../admin/index.js';
import type { Config } from '../config/index.js';
import { ChunkswarmError, type Logger, type SerialQueue } from '../core/index.js';
import { compactionText, type Deployer } from '../deploy/index.js';
import type { StatCache } from '../store/index.js';
import type { HeadBook } from './heads.js';

/** How long a scan begun for a command's early query waits for that command's publish (it follows in ~0.1 s). */
const PRESCAN_KEPT_MS = 10_000;

export interface NodePublishOptions {
  config: Config;
  deployer: Deployer;
  heads: HeadBook;
  /** The node's deploy steps: a publish runs between them. */
  serial: SerialQueue;
  log: Logger;
  /** Reads the heads again, telling every peer of a new one. */
  reloadHeads: () => Promise<void>;
}

/**
 * `chunkswarm publish` run here rather than in a process of its own: the code is warm (half the
 * time of a 12-file update in 20,000 files), the trees it recycles stop being served first, and
 * the release is announced as soon as it is signed. Between deploy steps, like node commands.
 */
export class NodePublish {
  /** The source stat caches of `publish`, loaded by the first one. */
  private readonly sourceCaches = new Map<string, StatCache>();
  private publishing = false;
  /** The scan the last `prescan` began, until its publish takes it or PRESCAN_KEPT_MS pass. */
  private prescanned: { id: string; scan: SourceScan } | null = null;

  constructor(private readonly o: NodePublishOptions) {}

  /** This node runs an operator's publish: the head it saves is told by that publish, not as one found. */
  get running(): boolean {
    return this.publishing;
  }

  /**
   * Scans the source of the `publish` command that sent this as it started, while it loads: its
   * publish takes the scan (run). Answers once the scan is done, with the number of files.
   */
  async prescan(cmd: PrescanCommand): Promise<{ files: number }> {
    const scan = scanAhead(this.o.config, cmd.source, this.o.deployer.objects);
    this.prescanned = { id: cmd.id, scan };
    setTimeout(() => {
      if (this.prescanned?.scan === scan) this.prescanned = null;
    }, PRESCAN_KEPT_MS).unref();
    return { files: (await scan.result).files.length };
  }

  async run(cmd: PublishCommand, notify: (notice: unknown) => void): Promise<PublishSummary> {
    const { log } = this.o;
    const early = this.prescanned;
    const scanned = early !== null && cmd.prescan === early.id && cmd.source === early.scan.source ? early.scan : undefined;
    if (scanned) this.prescanned = null;
    log.info(`operator: publish ${cmd.source}${scanned ? ' (its scan begun as the command started)' : ''}`);
    // A progress line per file hashed would cost the node a socket write each: ten a second are enough for a bar.
    let shown = { phase: '', at: 0 };
    const onProgress = (p: PublishProgress) => {
      const at = Date.now();
      if (p.phase === shown.phase && at - shown.at < 100) return;
      shown = { phase: p.phase, at };
      notify(p);
    };
    let summary: PublishSummary;
    this.publishing = true;
    try {
      const { deployer } = this.o;
      summary = await this.o.serial.run(() => publish({
        config: this.o.config, source: cmd.source, note: cmd.note ?? '', force: cmd.force ?? false, allowShrink: cmd.allowShrink ?? false, onProgress, chunkIndex: deployer.chunkIndex,
        caches: { inodes: deployer.inodes, sources: this.sourceCaches, objects: deployer.objects }, ...(scanned && { scanned }),
      }));
      // While `publishing` holds: this node's own release is told below, not as one it found.
      await this.o.reloadHeads();
    } catch (err) {
      // The command hears of it, but the node's log is where the operator looks later.
      const e = ChunkswarmError.fromSystem(err, `publishing ${cmd.source}`);
      log.warn(`operator: publish ${cmd.source} failed: ${e.message}`, { code: e.code });
      throw err;
    } finally {
      this.publishing = false;
    }
    if (summary.version === null) {
      log.info(`operator: ${cmd.source} equals release ${this.o.heads.latest?.body.version ?? '?'}; nothing published`);
    } else {
      log.info(
        `release ${summary.version} published: ${summary.files} files, ${summary.hashedFiles} hashed, ${summary.newChunks} new chunks ` +
          `(${(summary.newBytes / 1e6).toFixed(1)} MB), in ${summary.seconds.toFixed(2)} s`,
        { release: summary.version },
      );
    }
    for (const w of summary.warnings) log.warn(w, { release: summary.version ?? undefined });
    if (summary.objectsCompacted) log.info(`gc: ${compactionText(summary.objectsCompacted)}`, { release: summary.version ?? undefined });
    return summary;
  }
}
