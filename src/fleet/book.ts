import { ChunkswarmError } from '../core/index.js';
import type { FleetReport } from './report.js';
import { checkSignature, readReport, type SignedReport } from './sign.js';

/**
 * What a node holds, as its peers pull from it: per node with a report, the first
 * DIGEST_KEY_CHARS hex characters of its key and the time of its report. A node that claims
 * another's prefix gains nothing: a digest only decides what is sent to the one who made it.
 */
export type FleetDigest = Array<[string, number]>;
const DIGEST_KEY_CHARS = 16;
const KEY_PREFIX = new RegExp(`^[0-9a-f]{${DIGEST_KEY_CHARS}}$`);

/** What one node knows of another. */
export interface FleetEntry {
  key: string;
  /** Its newest report; null for a node that never authenticated (only its key is known). */
  report: FleetReport | null;
  signed: SignedReport | null;
  /**
   * Whether `signed` was checked: a report its own node sent over the connection that proved its
   * key is taken unchecked, and checked only before it is relayed.
   */
  checked: boolean;
  /** When that report reached us (ms, this node's clock): last-seen. */
  lastSeen: number | null;
  /** The address we saw it connect from, if it connected to us. */
  seenAt: string | null;
  /** Why its connection was refused, for a node that never authenticated. */
  refused: { at: number; reason: string; address: string | null } | null;
  /** The name it reported before the membership dropped it (`remove`), for a node turned away since. */
  removedAs?: string;
}

export interface FleetBookOptions {
  /** This node's key: its own report is set, never taken from a peer. */
  self: string;
  /** network.allowlist, or the signed membership (setAllowlist): reports of other keys are ignored. */
  allowlist: readonly string[] | null;
  /** Most nodes kept; beyond it the longest-unseen one is forgotten. */
  maxNodes: number;
}

/**
 * The latest signed report of every node, from the node itself or pulled from a peer that holds
 * it (digest, newerThan). Pure: the caller passes the time. A report is taken only if it is newer
 * than the one held and either its signature verifies with the key it names or it came from that
 * node itself, over a connection whose handshake proved that key. The signature of a report taken
 * the second way is checked before the report is relayed: every node gets every report from its
 * node in a full mesh, and checking each one cost an idle node of 33 an eighth of its CPU.
 */
export class FleetBook {
  private readonly nodes = new Map<string, FleetEntry>();
  private allow: ReadonlySet<string> | null = null;
  /** Names of the nodes whose reports setAllowlist dropped, by key: what a removed node is called when it knocks again. */
  private readonly removed = new Map<string, string>();

  constructor(private readonly o: FleetBookOptions) {
    this.setAllowlist(o.allowlist);
  }

  /**
   * The cluster's membership changed: from now on only these keys' reports are taken, and the
   * reports of nodes it no longer lists are dropped (a node `remove`d showed as live until its
   * last report grew old, then as unreachable for good).
   */
  setAllowlist(keys: readonly string[] | null): void {
    this.allow = keys ? new Set([...keys, this.o.self]) : null;
    if (!this.allow) return;
    for (const [key, e] of this.nodes) {
      if (!e.report || this.allow.has(key)) continue;
      this.nodes.delete(key);
      this.removed.set(key, e.report.name);
      if (this.removed.size > this.o.maxNodes) this.removed.delete(this.removed.keys().next().value!);
    }
  }

  setOwn(signed: SignedReport, report: FleetReport, now: number): void {
    this.put(report.node, { report, signed, checked: true, lastSeen: now, refused: null });
  }

  /**
   * A signed report from peer `from` (its key, as its connection's handshake proved it). Returns
   * the report if it is news (taken), null if known or older; throws a coded error for a
   * malformed one, or a forged one that would be news.
   */
  offer(item: unknown, now: number, from?: string): FleetReport | null {
    const unchecked = readReport(item);
    const { report, r, s } = unchecked;
    if (report.node === this.o.self) return null;
    if (this.allow && !this.allow.has(report.node)) return null;
    // Several peers may answer a pull with the same report: a copy no newer than the one held
    // changes nothing, and is dropped before the signature check that a news one gets.
    const held = this.nodes.get(report.node)?.report;
    if (held && held.at >= report.at) return null;
    const direct = from === report.node;
    if (!direct) checkSignature(unchecked);
    this.put(report.node, { report, signed: { r, s }, checked: !direct, lastSeen: now, refused: null });
    return report;
  }

  /** A peer connected from `address`: the address shown for it. */
  connected(key: string, address: string): void {
    const e = this.nodes.get(key);
    if (e) e.seenAt = address;
    else this.put(key, { seenAt: address });
  }

  /** A connection from `key` failed authentication (wrong secret, not allowlisted...). */
  refused(key: string, address: string | null, reason: string, now: number): void {
    const e = this.nodes.get(key);
    if (e?.report) return; // it authenticated before (or elsewhere): a passing failure, not its state
    const name = this.removed.get(key);
    this.put(key, { refused: { at: now, reason, address }, ...(name !== undefined && { removedAs: name }) });
  }

  /** Every report held (the own one too), for a peer to say which of them it lacks. */
  digest(): FleetDigest {
    const out: FleetDigest = [];
    for (const e of this.nodes.values()) if (e.report) out.push([e.key.slice(0, DIGEST_KEY_CHARS), e.report.at]);
    return out;
  }

  /**
   * The signed reports held that a peer's digest lacks, or names with an older time: what it pulls
   * from this node. E_PROTOCOL for a malformed digest. A report whose signature does not verify
   * is never relayed: its node's peers see it, from the node itself, and no one else.
   */
  newerThan(digest: unknown): SignedReport[] {
    const held = readDigest(digest, this.o.maxNodes);
    const out: SignedReport[] = [];
    for (const e of this.nodes.values()) {
      if (!e.signed || !e.report) continue;
      const at = held.get(e.key.slice(0, DIGEST_KEY_CHARS));
      if (at !== undefined && at >= e.report.at) continue;
      if (!e.checked && !this.check(e)) continue;
      out.push(e.signed);
    }
    return out;
  }

  private check(e: FleetEntry): boolean {
    try {
      checkSignature({ report: e.report!, ...e.signed! });
      e.checked = true;
      return true;
    } catch {
      e.signed = null;
      return false;
    }
  }

  entries(): FleetEntry[] {
    return [...this.nodes.values()];
  }

  private put(key: string, patch: Partial<FleetEntry>): void {
    const e = this.nodes.get(key) ?? { key, report: null, signed: null, checked: false, lastSeen: null, seenAt: null, refused: null };
    this.nodes.set(key, { ...e, ...patch });
    if (this.nodes.size > this.o.maxNodes) this.evict();
  }

  private evict(): void {
    let worst: FleetEntry | null = null;
    for (const e of this.nodes.values()) {
      if (e.key === this.o.self) continue;
      if (!worst || (e.lastSeen ?? 0) < (worst.lastSeen ?? 0)) worst = e;
    }
    if (worst) this.nodes.delete(worst.key);
  }
}

function readDigest(item: unknown, maxNodes: number): Map<string, number> {
  const bad = (why: string) => new ChunkswarmError('E_PROTOCOL', `malformed fleet digest: ${why}`);
  if (!Array.isArray(item)) throw bad('not a list');
  if (item.length > maxNodes) throw bad(`${item.length} entries, above ${maxNodes}`);
  const out = new Map<string, number>();
  for (const e of item) {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || !KEY_PREFIX.test(e[0]) || !Number.isFinite(e[1])) {
      throw bad('an entry is not [key prefix, time]');
    }
    out.set(e[0], e[1] as number);
  }
  return out;
}
