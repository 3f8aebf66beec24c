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

/** Values per lstat in the helper's answers: mode (-1: not there), dev, ino, nlink, uid, gid, size, mtimeMs, ctimeMs. */
const FIELDS = 9;
/**
 * Entries from which a walk is worth a helper thread: its start costs ~40 ms of CPU, the lstat of
 * ~8,000 entries; with fewer than ~4 times that, what it takes off the walk is hardly more.
 */
export const HELPER_MIN_ENTRIES = 30_000;
/** Entries beyond which a walk goes alone: the answers are shared memory, 72 bytes an entry. */
const HELPER_MAX_ENTRIES = 1_000_000;
/**
 * How long a helper thread is kept after a walk, for the next one: a thread's start (~40 ms) is
 * most of a walk's first half, and serve walks its tree at every verify and activation.
 */
const KEEP_MS = 60_000;
/** How long a walk waits for a job the helper has begun before it takes the job back (a dead helper). */
const STUCK_MS = 1000;

/** A job's state, shared by the walk and the helper: whoever claims a free job first does it. */
const FREE = 0;
const WALK = 1;
const HELPER = 2;
const DONE = 3;

/** What the helper thread is given for one walk: the jobs, and the shared memory it answers in. */
export interface HelperWork {
  jobs: readonly LstatJob[];
  /** Per job: FREE, WALK, HELPER or DONE. */
  state: Int32Array;
  /** Per job, its first row in `out`: the directory's own lstat, then each name's. */
  rows: Int32Array;
  /** FIELDS values per row. */
  out: Float64Array;
  /** Set to 1 when the walk no longer needs the helper. */
  stop: Int32Array;
}

/** Helper threads that ended or failed: never given a walk again. */
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
 * The helper thread's side of a walk: from the last job backwards, each job it claims lstatted by
 * full path (a worker thread cannot chdir, see lstatNames) into the shared answers; a job the walk
 * claimed first is skipped. Until the first job, or until the walk says stop.
 */
export function helpWalk(work: HelperWork): void {
  const { jobs, state, rows, out, stop } = work;
  for (let j = jobs.length - 1; j >= 0 && Atomics.load(stop, 0) === 0; j--) {
    if (Atomics.compareExchange(state, j, FREE, HELPER) !== FREE) continue;
    const job = jobs[j]!;
    let row = rows[j]!;
    put(out, row++, lstatSync(job.dir, { throwIfNoEntry: false }));
    for (const name of job.names) put(out, row++, lstatSync(`${job.dir}/${name}`, { throwIfNoEntry: false }));
    Atomics.store(state, j, DONE);
    Atomics.notify(state, j);
  }
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

/** An lstat as the helper thread left it in the shared answers: the same numbers an fs.Stats holds. */
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
 * Each directory is claimed in shared memory by whichever comes to it first, and the helper writes
 * its answers there: neither waits for a message from the other. A check of 10^5 files is nothing
 * but these calls (~5 µs each here), and the machine's other core idles meanwhile. Whatever goes
 * wrong with the helper (it cannot start, it dies), the walk does the rest itself: the answers are
 * the same either way.
 */
export class LstatAhead {
  private readonly state: Int32Array;
  private readonly rows: Int32Array;
  private readonly out: Float64Array;
  private readonly stop = new Int32Array(new SharedArrayBuffer(4));
  private worker: Worker | null;
  /** Jobs taken from the helper's answers so far. */
  helped = 0;

  private constructor(private readonly jobs: readonly LstatJob[], entries: number) {
    this.state = new Int32Array(new SharedArrayBuffer(4 * jobs.length));
    this.rows = new Int32Array(new SharedArrayBuffer(4 * jobs.length));
    let row = 0;
    for (let j = 0; j < jobs.length; j++) {
      this.rows[j] = row;
      row += 1 + jobs[j]!.names.length;
    }
    this.out = new Float64Array(new SharedArrayBuffer(8 * FIELDS * (entries + jobs.length)));
    this.worker = helperThread();
    this.worker?.postMessage({ jobs, state: this.state, rows: this.rows, out: this.out, stop: this.stop } satisfies HelperWork);
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
   * A helper for a walk through `jobs`, or null where it would not pay (fewer than `minEntries`
   * names in all, or a single core) or would take too much memory. It starts at once: a walk that
   * comes later (answered()) finds the last jobs done, or all.
   */
  static start(jobs: readonly LstatJob[], minEntries = HELPER_MIN_ENTRIES): LstatAhead | null {
    if (availableParallelism() < 2 || jobs.length < 2) return null;
    let names = 0;
    for (const j of jobs) names += j.names.length;
    return names >= minEntries && names <= HELPER_MAX_ENTRIES ? new LstatAhead(jobs, names) : null;
  }

  /**
   * Job `i`'s lstats (undefined where a name is not there), taken by this thread or by the
   * helper; null as lstatNames answers null (the directory is not `expect`, or cannot be
   * entered): the caller looks each name up itself.
   */
  take(i: number, expect?: { dev: number; ino: number }): Array<EntryStat | undefined> | null {
    if (this.claim(i) === DONE) return this.read(i, expect);
    const job = this.jobs[i]!;
    return lstatNames(job.dir, job.names, expect);
  }

  /**
   * Job `i`'s lstats as the helper took them, without waiting: null where it has not (it will
   * not any more), or where its directory was not there or is no longer `expect`.
   */
  answered(i: number, expect?: { dev: number; ino: number }): Array<EntryStat | undefined> | null {
    const s = Atomics.compareExchange(this.state, i, FREE, WALK);
    return s === DONE ? this.read(i, expect) : null;
  }

  /** Lets go of the helper thread: the walk is over, or given up. The thread is kept for the next walk (KEEP_MS). */
  close(): void {
    Atomics.store(this.stop, 0, 1);
    const w = this.worker;
    this.worker = null;
    if (w) keepSpare(w);
  }

  /** Claims job `i` for the walk; DONE if the helper did it (waited for, if it was at it). */
  private claim(i: number): number {
    const s = Atomics.compareExchange(this.state, i, FREE, WALK);
    if (s !== HELPER) return s;
    // The helper is at it: a few hundred lstats at most, unless it died meanwhile.
    if (Atomics.wait(this.state, i, HELPER, STUCK_MS) === 'timed-out') return WALK;
    return Atomics.load(this.state, i);
  }

  private read(i: number, expect?: { dev: number; ino: number }): Array<EntryStat | undefined> | null {
    this.helped++;
    const v = this.out;
    const at = this.rows[i]! * FIELDS;
    if (v[at]! < 0 || (expect && (v[at + 1] !== expect.dev || v[at + 2] !== expect.ino))) return null;
    const names = this.jobs[i]!.names;
    const out = new Array<EntryStat | undefined>(names.length);
    for (let k = 0; k < names.length; k++) out[k] = v[at + (k + 1) * FIELDS]! < 0 ? undefined : new SentStat(v, at + (k + 1) * FIELDS);
    return out;
  }
}
