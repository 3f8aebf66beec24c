import type { SwarmStats } from '../swarm/index.js';

export interface Problem {
  /** Which problem this is, stable while it lasts (the text may change, e.g. a count of seconds). */
  id: 'failed-step' | 'no-peer-found' | 'peers-gone' | 'auth-failures' | 'allowlist' | 'heads-refused' | 'pieces-unavailable' | 'pinned' | 'not-member';
  /** `error`: the node is not converging and needs an operator; `warning`: it may be; `info`: by design. */
  level: 'error' | 'warning' | 'info';
  text: string;
}

export interface DiagnoseInput {
  uptimeSec: number;
  connectedPeers: number;
  /** Seconds since the last authenticated peer left, or null if one never connected. */
  aloneSinceSec: number | null;
  bootstrap: readonly string[];
  swarm: Pick<SwarmStats, 'authFailures'>;
  /** Seconds since the last connection that failed the cluster-secret check, or null. */
  authFailureAgoSec: number | null;
  /** Keys refused by the allowlist that it still does not hold (Swarm.refusedNow). */
  refusedKeys: readonly string[];
  refusedHeads: ReadonlyArray<{ code: string }>;
  lastError: { code: string; message: string } | null;
  retry: { failures: number; retryInSec: number | null };
  unavailablePieces: number;
  /** Seconds since some missing piece has been on no connected peer without a break, or null. */
  unavailableForSec: number | null;
  progressVersion: number | null;
  live: number | null;
  newest: number | null;
  pinned: boolean;
  publisher: boolean;
  membership?: { version: number | null; member: boolean | null };
}

/** A failed cluster-secret check is told for this long after the last one (the count stays in status --json). */
export const AUTH_FAILURE_SHOWN_SEC = 600;

/** Seconds a node may look for peers (or be without them) before being alone is worth telling. */
export const ALONE_GRACE_SEC = 10;

/**
 * Seconds pieces may be on no connected peer before it is worth telling: a node that starts (or
 * resumes) a download meets its peers one by one, and the publisher, which holds every piece, may
 * be the last of them.
 */
export const UNAVAILABLE_GRACE_SEC = 10;

/**
 * Why a node is not where it should be, in words a sysadmin can act on: what `status` prints
 * under "problems" and what decides its exit status. Pure.
 */
export function diagnose(d: DiagnoseInput): Problem[] {
  const out: Problem[] = [];
  if (d.lastError) {
    const next = d.retry.retryInSec === null ? '' : `; retrying in ${Math.max(0, Math.ceil(d.retry.retryInSec))} s`;
    out.push({ id: 'failed-step', level: 'error', text: `${d.lastError.code}: ${d.lastError.message} (failed ${d.retry.failures} time${d.retry.failures === 1 ? '' : 's'}${next})` });
  }
  // Left out of the membership, a node is refused by every peer: not-member says so, and why.
  const outside = d.membership?.member === false;
  if (!outside && d.connectedPeers === 0 && d.uptimeSec >= ALONE_GRACE_SEC && (d.aloneSinceSec === null || d.aloneSinceSec >= ALONE_GRACE_SEC)) {
    const where = `network.bootstrap (${d.bootstrap.join(', ') || 'empty'})`;
    out.push(
      d.aloneSinceSec === null
        ? {
            id: 'no-peer-found',
            level: 'error',
            text: `no peer found in ${Math.round(d.uptimeSec)} s: check that cluster.secret is the cluster's (it also names the swarm to look for) and that ${where} lists nodes that are up and reachable`,
          }
        : {
            id: 'peers-gone',
            level: 'warning',
            text: `no peer connected for ${Math.round(d.aloneSinceSec)} s: the other nodes are down or unreachable (${where}), or refuse this node (removed from the cluster's membership?)`,
          },
    );
  }
  if (d.swarm.authFailures > 0 && d.authFailureAgoSec !== null && d.authFailureAgoSec < AUTH_FAILURE_SHOWN_SEC) {
    out.push({
      id: 'auth-failures',
      level: 'warning',
      text: `${d.swarm.authFailures} connection(s) failed the cluster-secret check, the last ${Math.round(d.authFailureAgoSec)} s ago: a node with another cluster.secret (or a stranger) reaches this one`,
    });
  }
  if (d.refusedKeys.length > 0) {
    const n = d.refusedKeys.length;
    const named = d.refusedKeys.slice(-3).map((k) => k.slice(0, 16)).join(', ');
    const refused = `${n} node(s) outside the cluster's membership tried to connect and were refused (${n > 3 ? `the newest: ${named}, …` : named}): `;
    out.push({
      id: 'allowlist',
      level: 'warning',
      // A node made with `init --join` before any record reached it refuses even the master: admitting the master's key would not help.
      text: !d.publisher && d.membership?.version === null
        ? refused + `this node holds no signed membership yet, so it lets in only the keys of network.allowlist: where the master has admitted nodes, ` +
          `copy its data/membership.json into this node's data directory and start it again (a node that joined with a token has it); else add their keys to network.allowlist`
        : refused + `a node that belongs in it needs "chunkswarm admit <its key>" on the master (or network.allowlist, before a signed membership exists); a removed node should be stopped`,
    });
  }
  if (d.membership?.member === false) {
    out.push({
      id: 'not-member',
      level: 'error',
      text: d.publisher
        ? `this master's node key is not in the cluster's membership (version ${d.membership.version}), so every node refuses it ` +
          `(a data directory restored without its node.seed?): run "chunkswarm admit <this node's key>" here, then copy its ` +
          `membership.json into one frontend's data directory and restart that frontend; the others take the record from it`
        : `this node is not in the cluster's membership (version ${d.membership.version}): the other nodes refuse it; the publisher removed it, or never admitted it ("chunkswarm admit <this node's key>" on the master)`,
    });
  }
  const refused = [...new Set(d.refusedHeads.map((r) => r.code).filter((c) => c === 'E_WRONG_CLUSTER' || c === 'E_BAD_SIGNATURE'))];
  if (refused.length > 0) {
    out.push({
      id: 'heads-refused',
      level: d.newest === null ? 'error' : 'warning',
      text: `release heads refused (${refused.join(', ')}): if this node never gets a release, compare cluster.publisherKey with the master's`,
    });
  }
  if (d.unavailablePieces > 0 && d.progressVersion !== null && d.unavailableForSec !== null && d.unavailableForSec >= UNAVAILABLE_GRACE_SEC) {
    out.push({
      id: 'pieces-unavailable',
      level: 'warning',
      text: `${d.unavailablePieces} pieces of release ${d.progressVersion} have been on no connected peer for ${Math.round(d.unavailableForSec)} s: the publisher or the nodes holding them are unreachable`,
    });
  }
  if (!d.publisher && d.pinned && d.newest !== null && d.live !== null && d.newest > d.live) {
    out.push({ id: 'pinned', level: 'info', text: `pinned at release ${d.live}; release ${d.newest} waits until "chunkswarm unpin"` });
  }
  return out;
}
