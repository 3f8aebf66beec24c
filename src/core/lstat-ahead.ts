import { constants, lstatSync, type Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { lstatNames } from './lstat-names.js';

/** What a walk reads of an entry's lstat: an fs.Stats has it, and so has what the helper thread sends back. */
export type EntryStat = Pick<Stats, 'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'size' | 'mtimeMs' | 'ctimeMs' | 'isFile' | 'isDirectory' | 'isSymbolicLink'>;

/** A directory a walk will come to, and the names it will lstat there. */
export interface LstatJob {
  dir: string;
  names: readonly string[];
}

/** Values per lstat in a helper's answer: mode (-1: not there), dev, ino, nlink, uid, gid, size, mtimeMs, ctimeMs. */
const FIELDS = 9;
/**
 * Entries from which a walk is worth a helper thread: its start costs ~40 ms of CPU, the lstat of
 * ~8,000 entries; with fewer than ~4 times that, what it takes off the walk is hardly more.
 */
export const HELPER_MIN_ENTRIES = 30_000;
/** Names per message to the helper: ~10 ms of its calls, answered at the walk's next turn. */
const BATCH_NAMES = 2048;
/**
 * How long a helper thread is kept after a walk, for the next one: a thread's start (~40 ms) is
 * most of a walk's first half, and serve walks its tree at every verify and activation.
 */
const KEEP_MS = 60_000;

/** Helper threads that ended or failed: never given a batch again. */
const ended = new WeakSet<Worker>();
/** The helper thread kept between walks, if any: one per process. */
let spare: { worker: Worker; timer: NodeJS.Timeout } | null = null;

function newThread(): Worker | null {
  try {
    const w = new Worker(new URL('./lstat-worker.js', import.meta.url));
    const end = () => {
      ended.add(w);
      if (spare?.worker === w) spare = null;
    };
    w.on('error', end).on('exit', end);
    return w;
  } catch {
    return null;
  }
}

/** The spare thread if there is one, else a new one. */
function helperThread(): Worker | null {
  if (!spare) return newThread();
  const { worker, timer } = spare;
  spare = null;
  clearTimeout(timer);
  worker.ref();
  return worker;
}

/** Keeps a thread that is done with a walk for the next one, for KEEP_MS, without holding the process open. */
function keepSpare(w: Worker): void {
  if (spare || ended.has(w)) {
    void w.terminate();
    return;
  }
  w.unref();
  const timer = setTimeout(() => {
    if (spare?.worker === w) spare = null;
    void w.terminate();
  }, KEEP_MS);
  timer.unref();
  spare = { worker: w, timer };
}

/**
 * A job's lstats by full path (a worker thread cannot chdir, see lstatNames): its directory's
 * own first, then each name's, FIELDS values each.
 */
export function lstatJobs(jobs: readonly LstatJob[]): Array<Float64Array<ArrayBuffer>> {
  return jobs.map((job) => {
    const out = new Float64Array((job.names.length + 1) * FIELDS);
    put(out, 0, lstatSync(job.dir, { throwIfNoEntry: false }));
    for (let k = 0; k < job.names.length; k++) put(out, k + 1, lstatSync(`${job.dir}/${job.names[k]}`, { throwIfNoEntry: false }));
    return out;
  });
}

function put(out: Float64Array, row: number, st: Stats | undefined): void {
  const at = row * FIELDS;
  if (!st) {
    out[at] = -1;
    return;
  }
  out[at] = st.mode;
  out[at + 1] = st.dev;
  out[at + 2] = st.ino;
  out[at + 3] = st.nlink;
  out[at + 4] = st.uid;
  out[at + 5] = st.gid;
  out[at + 6] = st.size;
  out[at + 7] = st.mtimeMs;
  out[at + 8] = st.ctimeMs;
}

/** An lstat as the helper thread sent it back: the same numbers an fs.Stats holds. */
class SentStat implements EntryStat {
  readonly mode: number;
  readonly dev: number;
  readonly ino: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;

  constructor(v: Float64Array, at: number) {
    this.mode = v[at]!;
    this.dev = v[at + 1]!;
    this.ino = v[at + 2]!;
    this.nlink = v[at + 3]!;
    this.uid = v[at + 4]!;
    this.gid = v[at + 5]!;
    this.size = v[at + 6]!;
    this.mtimeMs = v[at + 7]!;
    this.ctimeMs = v[at + 8]!;
  }

  isFile(): boolean {
    return (this.mode & constants.S_IFMT) === constants.S_IFREG;
  }

  isDirectory(): boolean {
    return (this.mode & constants.S_IFMT) === constants.S_IFDIR;
  }

  isSymbolicLink(): boolean {
    return (this.mode & constants.S_IFMT) === constants.S_IFLNK;
  }
}

/**
 * The lstat of every entry of a walk whose directories are known before it starts (a check of a
 * tree against its release), on two threads: the walk takes each directory's in its order, from
 * the first, while a helper thread lstats from the last directory backwards, until they meet.
 * A check of 10^5 files is nothing but these calls (~5 µs each here), and the machine's other
 * core idles meanwhile. Whatever goes wrong with the helper (it cannot start, it dies), the walk
 * does the rest itself: the answers are the same either way.
 */
export class LstatAhead {
  /** Jobs from here on are the helper's (asked for, or answered). */
  private back: number;
  /** Jobs before this one the walk has taken. */
  private front = 0;
  private readonly answers = new Map<number, Float64Array>();
  /** The batch the helper works on: its jobs, and whom to tell when it is answered. */
  private pending: { from: number; to: number; done: Promise<void> } | null = null;
  private worker: Worker | null;
  /** Jobs taken from the helper's answers so far. */
  helped = 0;

  private constructor(private readonly jobs: readonly LstatJob[]) {
    this.back = jobs.length;
    this.worker = helperThread();
    // Its first batch is posted now: a new thread answers it once it has started.
    this.askMore();
  }

  /**
   * Starts a helper thread ahead of a walk of about `entries` that is to come (the check of the
   * live tree once a release is staged), so that the walk does not wait for its start.
   */
  static warm(entries: number, minEntries = HELPER_MIN_ENTRIES): void {
    if (spare || entries < minEntries || availableParallelism() < 2) return;
    const w = newThread();
    if (w) keepSpare(w);
  }

  /**
   * A helper for a walk through `jobs`, or null where it would not pay: fewer than `minEntries`
   * names in all, or a single core.
   */
  static start(jobs: readonly LstatJob[], minEntries = HELPER_MIN_ENTRIES): LstatAhead | null {
    if (availableParallelism() < 2 || jobs.length < 2) return null;
    let names = 0;
    for (const j of jobs) names += j.names.length;
    return names >= minEntries ? new LstatAhead(jobs) : null;
  }

  /**
   * Job `i`'s lstats (undefined where a name is not there), taken by this thread or by the
   * helper; null as lstatNames answers null (the directory is not `expect`, or cannot be
   * entered): the caller looks each name up itself.
   */
  async take(i: number, expect?: { dev: number; ino: number }): Promise<Array<EntryStat | undefined> | null> {
    this.front = Math.max(this.front, i + 1);
    const job = this.jobs[i]!;
    if (i >= this.back && !this.answers.has(i) && this.pending && i >= this.pending.from && i < this.pending.to) await this.pending.done;
    const v = this.answers.get(i);
    if (!v) return lstatNames(job.dir, job.names, expect);
    this.answers.delete(i);
    this.helped++;
    if (v[0]! < 0 || (expect && (v[1] !== expect.dev || v[2] !== expect.ino))) return null;
    const out = new Array<EntryStat | undefined>(job.names.length);
    for (let k = 0; k < job.names.length; k++) out[k] = v[(k + 1) * FIELDS]! < 0 ? undefined : new SentStat(v, (k + 1) * FIELDS);
    return out;
  }

  /**
   * Lets go of the helper thread: the walk is over, or given up. One that is between batches is
   * kept for the next walk (KEEP_MS); one that failed or still works on a batch is ended.
   */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    if (this.pending || ended.has(w)) await w.terminate();
    else keepSpare(w);
  }

  /**
   * Gives the helper the next jobs from the back, at most half of those the walk has yet to
   * reach: near the middle the batches shrink, so that neither waits long for the other.
   */
  private askMore(): void {
    const w = this.worker;
    if (!w || this.pending) return;
    if (ended.has(w)) {
      this.worker = null;
      return;
    }
    const limit = this.back - Math.ceil((this.back - this.front) / 2);
    let from = this.back;
    let names = 0;
    while (from - 1 > this.front && from > limit && names < BATCH_NAMES) names += this.jobs[--from]!.names.length;
    if (from === this.back) {
      void this.close();
      return;
    }
    const to = this.back;
    this.back = from;
    const done = new Promise<void>((resolve) => {
      const finish = () => {
        w.off('message', answered).off('error', fail).off('exit', fail);
        this.pending = null;
        resolve();
      };
      const answered = (got: Float64Array[]) => {
        got.forEach((v, k) => this.answers.set(from + k, v));
        finish();
        this.askMore();
      };
      // Its jobs are the walk's again: take() finds no answer for them and lstats them itself.
      const fail = () => {
        ended.add(w);
        finish();
        void this.close();
      };
      w.on('message', answered).on('error', fail).on('exit', fail);
    });
    this.pending = { from, to, done };
    w.postMessage(this.jobs.slice(from, to));
  }
}
