import cliProgress from 'cli-progress';
import { secs, size } from './format.js';

/** One node's line of the live display. */
export interface NodeRow {
  name: string;
  publisher: boolean;
  /** 0..100 of the release's chunks present (100 once live). */
  pct: number;
  /** Seconds after publish when it went live, or null. */
  liveAfter: number | null;
  state: string;
  /** Bytes received during this rollout, and how many of them came from the publisher. */
  got: number;
  fromPublisher: number;
  /** Bytes sent during this rollout (the publisher's egress). */
  sent: number;
}

export interface ProgressView {
  update(rows: NodeRow[], elapsed: number): void;
  stop(): void;
}

let active: ProgressView | null = null;

export function progressView(tty: boolean): ProgressView {
  active = tty ? new BarsView() : new LogView();
  return active;
}

/** On Ctrl-C: stop redrawing and give the cursor back before the goodbye message. */
export function stopActiveView(): void {
  active?.stop();
  active = null;
}

const NAME_WIDTH = 12;
const STATE_WIDTH = 17;

/** A bar per node (cli-progress MultiBar), redrawn in place. */
class BarsView implements ProgressView {
  private readonly multi = new cliProgress.MultiBar(
    {
      stream: process.stdout,
      format: '   {name} {bar} {percentage}%  {state}  {traffic}',
      barsize: 20,
      hideCursor: true,
      autopadding: true,
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
    },
    cliProgress.Presets.shades_classic,
  );
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  update(rows: NodeRow[]): void {
    for (const r of rows) {
      const payload = r.publisher
        ? { name: r.name.padEnd(NAME_WIDTH), state: '', traffic: `sent ${size(r.sent)} to the followers` }
        : { name: r.name.padEnd(NAME_WIDTH), state: r.state.padEnd(STATE_WIDTH), traffic: traffic(r) };
      let bar = this.bars.get(r.name);
      if (!bar) {
        const opts = r.publisher ? { format: '   {name} {traffic}' } : {};
        bar = this.multi.create(100, 0, payload, opts);
        this.bars.set(r.name, bar);
      }
      bar.update(Math.round(r.pct), payload);
    }
  }

  private stopped = false;

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.multi.stop();
  }
}

function traffic(r: NodeRow): string {
  return `got ${size(r.got)}: ${size(r.fromPublisher)} publisher, ${size(r.got - r.fromPublisher)} peers`;
}

const LOG_EVERY_SEC = 2;

/** Without a terminal: a line when a node goes live, and a summary line every few seconds. */
class LogView implements ProgressView {
  private readonly announced = new Set<string>();
  private lastSummary = 0;

  update(rows: NodeRow[], elapsed: number): void {
    const followers = rows.filter((r) => !r.publisher);
    for (const r of followers) {
      if (r.liveAfter === null || this.announced.has(r.name)) continue;
      this.announced.add(r.name);
      line(r.liveAfter, `${r.name} is live, ${traffic(r)}`);
    }
    if (elapsed - this.lastSummary < LOG_EVERY_SEC || this.announced.size === followers.length) return;
    this.lastSummary = elapsed;
    const pub = rows.find((r) => r.publisher);
    const got = followers.reduce((n, r) => n + r.got, 0);
    const fromPub = followers.reduce((n, r) => n + r.fromPublisher, 0);
    const avg = followers.reduce((n, r) => n + r.pct, 0) / Math.max(1, followers.length);
    line(
      elapsed,
      `${this.announced.size}/${followers.length} live, ${avg.toFixed(0)}% on average; ` +
        `publisher sent ${size(pub?.sent ?? 0)}, followers got ${size(got)} (${size(got - fromPub)} from each other)`,
    );
  }

  stop(): void {}
}

function line(elapsed: number, text: string): void {
  process.stdout.write(`   [+${secs(elapsed).padStart(6)}] ${text}\n`);
}
