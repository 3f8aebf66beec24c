import type { FleetEntry } from './book.js';
import { splitHostPort } from '../core/index.js';
import { liveDriftCount } from './report.js';

export type NodeState = 'live' | 'seeding' | 'starting' | 'fetching' | 'staged' | 'blocked' | 'pinned' | 'error' | 'unreachable' | 'unauthenticated';

/** One line of `chunkswarm fleet`. */
export interface FleetNodeView {
  key: string;
  name: string;
  /**
   * The host it is reached at, as this node's connection to it shows it (else as it reports it):
   * the connection's port is a hyperswarm socket's, which says nothing to the operator.
   */
  address: string | null;
  publisher: boolean;
  /** This is the node answering. */
  self: boolean;
  live: number | null;
  newest: number | null;
  state: NodeState;
  /** The state in words: "fetching 42 %", "error: E_NO_SPACE", "unreachable since ...". */
  stateText: string;
  /** Progress towards the release being fetched, 0..100, when fetching. */
  percent: number | null;
  phase: string | null;
  drift: { live: number; records: number; unpulled: string[]; blocked: boolean };
  bytesUp: number;
  bytesFromPublisher: number;
  bytesFromPeers: number;
  lastError: string | null;
  lastSeen: string | null;
  ageSec: number | null;
  pinned: boolean;
  livePath: string | null;
}

export interface FleetSummary {
  nodes: number;
  /** The newest release any reachable node knows of. */
  newest: number | null;
  onNewest: number;
  /** Reachable followers not live on the newest release. */
  lagging: number;
  unreachable: number;
  errors: number;
  unauthenticated: number;
  /** Nodes with drift in their live tree or unpulled drift records. */
  drifted: number;
}

export interface FleetView {
  at: string;
  nodes: FleetNodeView[];
  summary: FleetSummary;
  /** False when any node is in error, unreachable or never authenticated: `fleet` exits non-zero. */
  ok: boolean;
}

/** The fleet as one node sees it at `now`. Pure. */
export function fleetView(all: readonly FleetEntry[], o: { now: number; self: string; unreachableAfterSec: number }): FleetView {
  // A peer connected but not yet reported is not shown until it does (a second or so).
  const entries = all.filter((e) => e.report !== null || e.refused !== null);
  const reachable = (e: FleetEntry) => e.report !== null && e.lastSeen !== null && (o.now - e.lastSeen) / 1000 <= o.unreachableAfterSec;
  let newest: number | null = null;
  for (const e of entries.filter(reachable)) {
    for (const v of [e.report!.newest, e.report!.live]) if (v !== null && (newest === null || v > newest)) newest = v;
  }
  const nodes = entries.map((e) => nodeView(e, { ...o, newest, reachable: reachable(e) }));
  nodes.sort((a, b) => Number(b.publisher) - Number(a.publisher) || a.name.localeCompare(b.name) || a.key.localeCompare(b.key));
  const count = (f: (n: FleetNodeView) => boolean) => nodes.filter(f).length;
  const summary: FleetSummary = {
    nodes: nodes.length,
    newest,
    onNewest: count((n) => n.live !== null && n.live === newest),
    lagging: count((n) => !n.publisher && n.state !== 'unreachable' && n.state !== 'unauthenticated' && n.live !== newest),
    unreachable: count((n) => n.state === 'unreachable'),
    errors: count((n) => n.state === 'error'),
    unauthenticated: count((n) => n.state === 'unauthenticated'),
    drifted: count((n) => n.drift.live > 0 || n.drift.unpulled.length > 0),
  };
  return { at: new Date(o.now).toISOString(), nodes, summary, ok: summary.unreachable + summary.errors + summary.unauthenticated === 0 };
}

export function summaryLine(s: FleetSummary): string {
  return (
    `${s.nodes} nodes, ${s.onNewest} on the newest release${s.newest === null ? '' : ` (${s.newest})`}, ${s.lagging} lagging` +
    (s.unreachable ? `, ${s.unreachable} unreachable` : '') + (s.errors ? `, ${s.errors} in error` : '') +
    (s.unauthenticated ? `, ${s.unauthenticated} never authenticated` : '') + (s.drifted ? `, ${s.drifted} with drift` : '')
  );
}

function hostOf(address: string | null): string | null {
  return address === null ? null : splitHostPort(address).host;
}

function nodeView(e: FleetEntry, o: { now: number; self: string; newest: number | null; reachable: boolean }): FleetNodeView {
  const r = e.report;
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));
  const percent = r?.progress && r.progress.version !== r.live
    ? r.progress.bytesTotal > 0 ? Math.floor((1000 * r.progress.bytesHave) / r.progress.bytesTotal) / 10 : 100
    : null;
  const base = {
    key: e.key,
    name: r?.name ?? e.removedAs ?? e.key.slice(0, 12),
    address: hostOf(e.seenAt) ?? r?.address ?? hostOf(e.refused?.address ?? null),
    publisher: r?.publisher ?? false,
    self: e.key === o.self,
    live: r?.live ?? null,
    newest: r?.newest ?? null,
    percent,
    phase: r?.phase ?? null,
    drift: r ? { live: liveDriftCount(r.drift), records: r.drift.records, unpulled: r.drift.unpulled, blocked: r.drift.blocked } : { live: 0, records: 0, unpulled: [], blocked: false },
    bytesUp: r?.bytesUp ?? 0,
    bytesFromPublisher: r?.bytesFromPublisher ?? 0,
    bytesFromPeers: r ? r.bytesDown - r.bytesFromPublisher : 0,
    lastError: r?.lastError ?? null,
    lastSeen: iso(e.lastSeen),
    ageSec: e.lastSeen === null ? null : Math.max(0, Math.round((o.now - e.lastSeen) / 100) / 10),
    pinned: r?.pinned ?? false,
    livePath: r?.livePath ?? null,
  };
  const [state, stateText] = stateOf(e, base, o);
  return { ...base, state, stateText };
}

function stateOf(e: FleetEntry, n: Omit<FleetNodeView, 'state' | 'stateText'>, o: { newest: number | null; reachable: boolean }): [NodeState, string] {
  const r = e.report;
  if (!r && e.removedAs !== undefined) return ['unauthenticated', 'removed from the membership, still running: stop it'];
  if (!r) return ['unauthenticated', `never authenticated${e.refused ? `: ${e.refused.reason}` : ''}`];
  if (!o.reachable) return ['unreachable', `unreachable since ${n.lastSeen}`];
  if (r.drift.blocked) return ['blocked', 'blocked by drift'];
  if (r.lastError) return ['error', `error: ${r.lastError}`];
  if (r.pinned) return ['pinned', `pinned at ${r.live ?? '-'}`];
  if (r.phase === 'activating') return ['staged', `staged ${r.progress?.version ?? r.newest ?? ''}`.trim()];
  if (n.percent !== null && (r.phase === 'objects' || r.phase === 'pieces')) return ['fetching', `fetching ${r.progress!.version}: ${n.percent.toFixed(1)} %`];
  if (r.phase === 'objects' || r.phase === 'pieces') return ['fetching', `fetching ${r.newest ?? ''}`.trim()];
  if (r.publisher) return ['seeding', `seeding ${r.newest ?? '-'}`];
  if (r.live === null) return ['starting', r.phase];
  return ['live', `live ${r.live}`];
}
