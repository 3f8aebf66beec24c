import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How often serve looks at its memory. */
const CHECK_MS = 2000;
/** CPU time within one check below which the check counts as idle (10 % of a core). */
const IDLE_CPU_MS = CHECK_MS / 10;
/**
 * Idle checks in a row before the first collection: work that comes in steps (an operator's
 * publish after publish, bench:seed's updates 2 s apart) is left alone; collecting between such
 * steps made each next one regrow its heap (+5 % CPU per update in bench:seed).
 */
const IDLE_LOOKS = 3;
/** Resident memory above the level after the last collection that is worth a full collection. */
const RECLAIM_BYTES = 48 * 1024 * 1024;
/** A collection that gave back at least this much is followed by another (V8 returns pages over several). */
const WORTH_ANOTHER_BYTES = 16 * 1024 * 1024;

/** What the check remembers between two looks. */
export interface CollectState {
  /** Resident bytes after the last collection settled (or at start): the level to come back to. */
  floor: number;
  /** Resident bytes when the last collection ran, until the next look has seen its effect. */
  collectedAt: number | null;
  /** Idle looks in a row so far. */
  idleLooks: number;
}

export function initialCollectState(rss: number): CollectState {
  return { floor: rss, collectedAt: null, idleLooks: 0 };
}

/**
 * One look: whether to run a full collection now, and what to remember. A collection runs only
 * once the process has been idle for IDLE_LOOKS looks and its memory stands RECLAIM_BYTES above
 * the floor, and again at the next look as long as the one before gave back WORTH_ANOTHER_BYTES.
 */
export function shouldCollect(state: CollectState, rss: number, idle: boolean): { collect: boolean; state: CollectState } {
  const idleLooks = idle ? state.idleLooks + 1 : 0;
  if (state.collectedAt !== null) {
    const again = idle && state.collectedAt - rss >= WORTH_ANOTHER_BYTES;
    return { collect: again, state: { floor: rss, collectedAt: again ? rss : null, idleLooks } };
  }
  const floor = Math.min(state.floor, rss);
  const collect = idleLooks >= IDLE_LOOKS && rss - floor >= RECLAIM_BYTES;
  return { collect, state: { floor, collectedAt: collect ? rss : null, idleLooks } };
}

/**
 * Gives memory back once a burst of work is over. Publishing or staging a release of 10^5 files
 * leaves hundreds of MB of garbage and heap room that V8 keeps while nothing more is allocated:
 * a master's serve sat at 280–313 MB for 30 s after four publishes of 20,000 files, with 43 MB
 * live; a full collection once it has been idle for 6 s brings it to ~150 MB (two collections,
 * 25–45 ms each).
 * A frontend's memory is the web server's.
 */
export function collectWhenIdle(): void {
  const gc = fullCollector();
  let state = initialCollectState(process.memoryUsage.rss());
  let cpu = process.cpuUsage();
  const timer = setInterval(() => {
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const idle = (used.user + used.system) / 1000 < IDLE_CPU_MS;
    const look = shouldCollect(state, process.memoryUsage.rss(), idle);
    state = look.state;
    if (look.collect) {
      gc();
      cpu = process.cpuUsage();
    }
  }, CHECK_MS);
  timer.unref();
}

let collector: (() => void) | null = null;

/**
 * V8's full collection: a context made after --expose-gc was set at run time has `gc`, so serve
 * needs no flag on node's command line. One context for the process, whoever asks.
 */
export function fullCollector(): () => void {
  if (collector === null) {
    setFlagsFromString('--expose-gc');
    collector = runInNewContext('gc') as () => void;
  }
  return collector;
}
