import { callControl, type Config, type ControlRequest } from '../client.js';
import type { EarlyQuery } from './early-query.js';
import { noteDoneByNode, waitingNotes } from './format.js';

/**
 * `cmd` carried out by the running `serve`, which says why if it has to wait, and (unless `quiet`)
 * the command says the node did it; with none running, `here` does it in this process. The
 * answer to the same request sent `early` is taken instead of asking again.
 */
export async function byNodeOrHere<R>(config: Config, cmd: ControlRequest, quiet: boolean, here: () => Promise<R>, early?: EarlyQuery | null): Promise<R> {
  const done = (await (early?.take(config.dataDir, cmd) ?? callControl(config.dataDir, cmd, waitingNotes(quiet)))) as R | null;
  if (done === null) return here();
  if (!quiet) noteDoneByNode(config.dataDir);
  return done;
}
