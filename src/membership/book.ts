import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkswarmError, SerialQueue, isChunkswarmError } from '../core/index.js';
import { clusterIdOf } from '../manifest/index.js';
import { atomicWrite, readTextOrNull } from '../store/index.js';
import { decodeMembership, encodeMembership, sameMembership, signMembership, type Member, type MembershipRecord } from './record.js';

export type MembershipVerdict =
  | { kind: 'new'; record: MembershipRecord }
  | { kind: 'known' }
  | { kind: 'refused'; error: ChunkswarmError };

export interface MembershipBookOptions {
  dataDir: string;
  publisherKey: Uint8Array;
  /**
   * network.allowlist: null, anyone who knows the cluster secret may connect; a list, only those
   * keys until a signed record exists, then the record's.
   */
  allowlist: readonly string[] | null;
}

/** What the publisher needs to sign a new version. */
export interface MembershipSigner {
  privateKeyPem: string;
  /** The publisher node's own swarm key: always a member, or the others would shut it out. */
  selfKey: string;
  selfName: string;
}

export function membershipPath(dataDir: string): string {
  return join(dataDir, 'membership.json');
}

/**
 * The newest membership record this node knows (dataDir/membership.json), and the gate every
 * gossiped one passes: taken only with the publisher's signature and a version above the newest.
 */
export class MembershipBook {
  private current: MembershipRecord | null = null;
  private currentText: string | null = null;
  private readonly queue = new SerialQueue();

  private constructor(private readonly o: MembershipBookOptions) {}

  static async open(o: MembershipBookOptions): Promise<MembershipBook> {
    const book = new MembershipBook(o);
    await book.load();
    return book;
  }

  get path(): string {
    return membershipPath(this.o.dataDir);
  }

  get record(): MembershipRecord | null {
    return this.current;
  }

  /** The record as it travels and is stored. */
  get text(): string | null {
    return this.currentText;
  }

  get enforced(): boolean {
    return this.o.allowlist !== null;
  }

  get clusterId(): string {
    return clusterIdOf(this.o.publisherKey);
  }

  /** The keys this node lets in; null: anyone who knows the cluster secret. */
  allowlist(): string[] | null {
    if (this.o.allowlist === null) return null;
    return this.current ? this.current.body.members.map((m) => m.key) : [...this.o.allowlist];
  }

  private async load(): Promise<void> {
    const text = await readTextOrNull(this.path);
    if (text === null) return;
    try {
      this.set(decodeMembership(text.trim(), this.o.publisherKey), text.trim());
    } catch (err) {
      if (!isChunkswarmError(err)) throw err;
      throw new ChunkswarmError(err.code, `${this.path}: ${err.message} (delete the file: the node gets the record again from its peers)`, { cause: err });
    }
  }

  /** Serialized: the same record arriving from several peers at once is taken once. */
  offer(text: string): Promise<MembershipVerdict> {
    return this.queue.run(() => this.check(text));
  }

  private async check(text: string): Promise<MembershipVerdict> {
    // Every peer that connects sends the record, and each new one comes from every peer: the one
    // held, byte for byte, is not decoded and verified again (10^3 members: ~100 KB of JSON).
    if (text === this.currentText) return { kind: 'known' };
    let record: MembershipRecord;
    try {
      record = decodeMembership(text, this.o.publisherKey);
    } catch (err) {
      if (isChunkswarmError(err)) return { kind: 'refused', error: err };
      throw err;
    }
    const known = this.current?.body.version ?? 0;
    if (record.body.version < known) {
      return { kind: 'refused', error: new ChunkswarmError('E_STALE_VERSION', `membership version ${record.body.version} is older than version ${known}, the newest this node has`) };
    }
    if (record.body.version === known) {
      if (this.current && sameMembership(this.current, record)) return { kind: 'known' };
      return { kind: 'refused', error: new ChunkswarmError('E_STALE_VERSION', `a different membership record also claims version ${known}; the first one seen is kept`) };
    }
    await this.save(record);
    return { kind: 'new', record };
  }

  /**
   * Publisher: signs and stores the next version, `edit` applied to the current members (or, before
   * the first record, to network.allowlist). The publisher node itself always stays a member.
   */
  amend(edit: (members: Member[]) => Member[], signer: MembershipSigner, now = new Date()): Promise<MembershipRecord> {
    return this.queue.run(async () => {
      const before = this.current?.body.members ?? (this.o.allowlist ?? []).map((key) => ({ key, name: '' }));
      const members = edit(before.map((m) => ({ ...m }))).filter((m) => m.key !== signer.selfKey);
      members.push({ key: signer.selfKey, name: before.find((m) => m.key === signer.selfKey)?.name || signer.selfName });
      const record = signMembership(
        { cluster: this.clusterId, version: (this.current?.body.version ?? 0) + 1, created: now.toISOString(), members },
        signer.privateKeyPem,
        this.o.publisherKey,
      );
      await this.save(record);
      return record;
    });
  }

  private async save(record: MembershipRecord): Promise<void> {
    const text = encodeMembership(record);
    await mkdir(this.o.dataDir, { recursive: true });
    await atomicWrite(this.path, text + '\n');
    this.set(record, text);
  }

  private set(record: MembershipRecord, text: string): void {
    this.current = record;
    this.currentText = text;
  }
}
