import { rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ChunkswarmError, silentLogger, type Logger } from '../core/index.js';
import type { Config } from '../config/index.js';
import type { ReleaseStore } from '../store/index.js';
import { hookFailure, runHook, type HookResult } from './hook.js';
import { adoptable, checkLiveParent, foreignLive, inspectLive, removeTempLinks, swapLive } from './live.js';
import { lstatOrNull } from './stage-fs.js';

export interface ActivateOptions {
  config: Config;
  releases: ReleaseStore;
  version: number;
  /** New value of state.pinned; unchanged when omitted. */
  pin?: boolean;
  log?: Logger;
  /**
   * livePath is not chunkswarm's and the release is to take its place (`adoptLive`): a real
   * directory is renamed to `aside` first, a symlink is replaced as ours are.
   */
  adopt?: { aside?: string };
  /** Aborted when the node stops: a hook still running is killed. */
  signal?: AbortSignal;
}

export interface ActivateResult {
  version: number;
  previous: number | null;
  /** False when livePath already pointed at this release (hooks are not run then). */
  switched: boolean;
  preActivate: HookResult | null;
  postActivate: HookResult | null;
  warnings: string[];
  /** What stood at livePath before it was taken over (`adopt`), and where it is now. */
  adopted?: { what: string; keptAt: string };
}

/**
 * Makes a materialized release live: preActivate hook (a failure leaves everything as it was),
 * atomic switch of livePath, state.json, postActivate hook (a failure is reported, the release
 * stays live). The live tree is never written in place.
 */
export async function activate(o: ActivateOptions): Promise<ActivateResult> {
  const { config, releases, version } = o;
  const log = o.log ?? silentLogger;
  const dir = releases.releasePath(version);
  if (!(await lstatOrNull(dir))?.isDirectory()) throw ChunkswarmError.notFound(`release ${version} on this node (${dir})`);
  const live = await inspectLive(config.livePath, releases);
  if (live.state === 'foreign' && (!o.adopt || !adoptable(live) || (live.kind === 'directory' && !o.adopt.aside))) {
    throw foreignLive(config.livePath, live, releases);
  }
  const adopted = live.state !== 'foreign' ? null : { what: live.what, keptAt: live.kind === 'symlink' ? live.target : o.adopt!.aside! };
  const aside = live.state === 'foreign' && live.kind === 'directory' ? adopted!.keptAt : null;
  const previous = live.state === 'release' ? live.version : null;
  const state = await releases.state();
  const result: ActivateResult = { version, previous, switched: false, preActivate: null, postActivate: null, warnings: [] };
  if (previous === version) {
    await releases.saveState({ ...state, live: version, pinned: o.pin ?? state.pinned });
    return result;
  }
  const env = {
    CHUNKSWARM_VERSION: String(version),
    CHUNKSWARM_RELEASE_DIR: dir,
    CHUNKSWARM_LIVE_PATH: config.livePath,
    CHUNKSWARM_PREVIOUS_VERSION: previous === null ? '' : String(previous),
  };
  const cwd = dirname(config.configPath);
  await checkLiveParent(config.livePath);
  const limits = { timeoutMs: config.hooks.timeoutSec * 1000, ...(o.signal && { signal: o.signal }) };
  if (config.hooks.preActivate) {
    result.preActivate = await runHook(config.hooks.preActivate, env, cwd, limits);
    // A failing hook's output is in the error; logging it as well would print it twice.
    if (result.preActivate.output && result.preActivate.code === 0) log.info(`preActivate: ${result.preActivate.output.trimEnd()}`, { release: version });
    if (result.preActivate.code !== 0) {
      throw new ChunkswarmError(
        'E_HOOK',
        `${hookFailure('preActivate', result.preActivate, limits.timeoutMs)}; release ${version} was not activated, ${config.livePath} is unchanged` +
          (result.preActivate.output ? `\n${result.preActivate.output.trimEnd().slice(-2000)}` : ''),
      );
    }
  }
  if (aside !== null) await moveAside(config.livePath, aside);
  try {
    await swapLive(config.livePath, dir);
  } catch (err) {
    if (aside !== null) await rename(aside, config.livePath).catch(() => undefined);
    throw err;
  }
  result.switched = true;
  if (adopted) result.adopted = adopted;
  await releases.saveState({ ...state, live: version, pinned: o.pin ?? state.pinned });
  const was = previous !== null ? ` (was ${previous})` : !adopted ? '' : aside !== null ? ` in place of ${adopted.what}, kept at ${aside}` : ` in place of a symlink to ${adopted.keptAt} (left alone)`;
  log.info(`release ${version} is live at ${config.livePath}${was}`, { release: version });
  if (config.hooks.postActivate) {
    result.postActivate = await runHook(config.hooks.postActivate, env, cwd, limits);
    if (result.postActivate.output) log.info(`postActivate: ${result.postActivate.output.trimEnd()}`, { release: version });
    if (result.postActivate.code !== 0) {
      result.warnings.push(`${hookFailure('postActivate', result.postActivate, limits.timeoutMs)}; release ${version} stays live`);
    }
  }
  return result;
}

/**
 * The directory at livePath, renamed within its parent: the release's symlink takes its place in the
 * next rename, so the path is missing only between two system calls (rename(2) cannot put a
 * symlink over a directory in one).
 */
async function moveAside(livePath: string, aside: string): Promise<void> {
  try {
    await rename(livePath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EBUSY') {
      throw new ChunkswarmError('E_IO', `${livePath} is a mount point (an NFS export, say) and cannot be moved aside: unmount it (a running node then takes its place at its next attempt)`, { cause: err });
    }
    throw ChunkswarmError.fromSystem(err, `moving ${livePath} aside to ${aside}`);
  }
}

/**
 * Start-up repair after a crash: temp links of an interrupted swap are removed; if livePath and
 * state.json disagree, livePath (an existing release) wins; a livePath whose release is gone is
 * pointed back at one that exists (state.json's, else the newest), or removed if there is none.
 */
export async function recover(config: Config, releases: ReleaseStore, log: Logger = silentLogger): Promise<string[]> {
  const fixed = (await removeTempLinks(config.livePath)).map((p) => `removed interrupted switch ${p}`);
  const live = await inspectLive(config.livePath, releases);
  const state = await releases.state();
  if (live.state === 'release' && state.live !== live.version) {
    await releases.saveState({ ...state, live: live.version });
    fixed.push(`state.json said live ${state.live}, ${config.livePath} points at ${live.version}: state.json corrected`);
  } else if (live.state === 'dangling') {
    const have = await releases.materialized();
    const v = state.live !== null && have.includes(state.live) ? state.live : have[have.length - 1];
    if (v === undefined) {
      await unlink(config.livePath).catch(() => undefined);
      fixed.push(`${config.livePath} pointed at missing ${live.target} and no release is on disk: removed`);
    } else {
      await swapLive(config.livePath, releases.releasePath(v));
      await releases.saveState({ ...state, live: v });
      fixed.push(`${config.livePath} pointed at missing ${live.target}: switched to release ${v}`);
    }
  }
  for (const f of fixed) log.warn(`recovery: ${f}`);
  return fixed;
}
