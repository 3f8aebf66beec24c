import { mkdir } from 'node:fs/promises';
import { ChunkswarmError, isHex64, joinHostPort } from '../core/index.js';
import { readSecretFile, type Config } from '../config/index.js';
import { BootstrapMemory } from '../swarm/bootstrap-memory.js';
import { joinKeyPair, nodeKeyPair, nodeSeed, type KeyPair } from './identity.js';
import { invitationState, InvitationStore, type Invitation, type InvitationState } from './invitations.js';
import { MembershipBook } from './book.js';
import type { JoinRequest } from './join-protocol.js';
import type { Member, MembershipRecord } from './record.js';
import { encodeToken, tokenBootstrap } from './token.js';

/** Operator commands on the cluster's membership; `members` works on any node, the rest on the publisher. */
export type MembershipCommand =
  | { op: 'admit'; key: string; name?: string }
  | { op: 'remove'; key: string }
  | { op: 'members' }
  | { op: 'token-create'; ttlSec: number; uses: number; bootstrap?: string[] }
  | { op: 'token-list' }
  | { op: 'token-revoke'; id: string };

export const MEMBERSHIP_OPS: ReadonlySet<string> = new Set(['admit', 'remove', 'members', 'token-create', 'token-list', 'token-revoke']);

export function isMembershipCommand(cmd: { op: string }): cmd is MembershipCommand {
  return MEMBERSHIP_OPS.has(cmd.op);
}

export interface MembershipView {
  version: number | null;
  created: string | null;
  /** Whether this node enforces it (network.allowlist is not null). */
  enforced: boolean;
  members: Member[];
}

export interface TokenCreated {
  token: string;
  id: string;
  expires: string;
  uses: number;
  bootstrap: string[];
}

export interface InvitationView extends Invitation {
  state: InvitationState;
}

export interface MembershipCommandResults {
  /** `unchanged`: the node was in it already, under that name; nothing was signed. */
  admit: MembershipView & { unchanged: boolean };
  remove: MembershipView;
  members: MembershipView;
  'token-create': TokenCreated;
  'token-list': InvitationView[];
  'token-revoke': InvitationView;
}

function viewOf(book: MembershipBook): MembershipView {
  const r = book.record;
  return {
    version: r?.body.version ?? null,
    created: r?.body.created ?? null,
    enforced: book.enforced,
    members: r ? r.body.members : (book.allowlist() ?? []).map((key) => ({ key, name: '' })),
  };
}

/**
 * The membership of one node: its book, and on the publisher the invitations and what signing
 * needs. The running `serve` holds one (commands arrive over its control socket, joins over the
 * join service); with none running, the CLI opens one under the data directory's lock.
 */
export class MembershipAdmin {
  private constructor(
    readonly config: Config,
    readonly book: MembershipBook,
    private readonly invitations: InvitationStore | null,
    private readonly seed: Uint8Array,
    /** Told of every record this node signs, to apply and spread it. */
    private readonly signed: (r: MembershipRecord) => void,
  ) {}

  static async open(config: Config, o: { signed?: (r: MembershipRecord) => void } = {}): Promise<MembershipAdmin> {
    const book = await MembershipBook.open({
      dataDir: config.dataDir,
      publisherKey: Buffer.from(config.cluster.publisherKey, 'hex'),
      allowlist: config.network.allowlist,
    });
    await mkdir(config.dataDir, { recursive: true }).catch((err) => {
      throw ChunkswarmError.fromSystem(err, `creating the data directory ${config.dataDir}`);
    });
    const invitations = config.publisher ? await InvitationStore.open(config.dataDir) : null;
    return new MembershipAdmin(config, book, invitations, await nodeSeed(config.dataDir), o.signed ?? (() => undefined));
  }

  get nodeKey(): string {
    return nodeKeyPair(this.seed).publicKey.toString('hex');
  }

  /** The key pair of the join service (publisher). */
  get joinKeyPair(): KeyPair {
    return joinKeyPair(this.seed);
  }

  async run<Op extends MembershipCommand['op']>(cmd: Extract<MembershipCommand, { op: Op }>): Promise<MembershipCommandResults[Op]>;
  async run(cmd: MembershipCommand): Promise<MembershipCommandResults[MembershipCommand['op']]> {
    switch (cmd.op) {
      case 'members':
        return viewOf(this.book);
      case 'admit': {
        checkKey(cmd.key);
        // Admitting a member again signs nothing: a new version for the same list would only make
        // every node take, store and pass on a record that changes nothing.
        const view = viewOf(this.book);
        const listed = view.members.find((m) => m.key === cmd.key);
        if (this.book.record && listed && (cmd.name === undefined || cmd.name === listed.name)) return { ...view, unchanged: true };
        await this.amend((ms) => [...ms.filter((m) => m.key !== cmd.key), { key: cmd.key, name: cmd.name ?? ms.find((m) => m.key === cmd.key)?.name ?? '' }]);
        return { ...viewOf(this.book), unchanged: false };
      }
      case 'remove': {
        checkKey(cmd.key);
        if (cmd.key === this.nodeKey) throw ChunkswarmError.usage('the publisher node cannot remove itself from its cluster');
        const listed = viewOf(this.book).members.some((m) => m.key === cmd.key);
        if (!listed) throw ChunkswarmError.notFound(`node ${cmd.key} in the membership (see "chunkswarm members")`);
        await this.amend((ms) => ms.filter((m) => m.key !== cmd.key));
        return viewOf(this.book);
      }
      case 'token-create':
        return this.createToken(cmd);
      case 'token-list': {
        const now = new Date();
        return this.publisherOnly().all().map((i) => ({ ...i, state: invitationState(i, now) }));
      }
      case 'token-revoke': {
        const inv = await this.publisherOnly().revoke(cmd.id);
        return { ...inv, state: invitationState(inv, new Date()) };
      }
      default:
        throw ChunkswarmError.usage(`unknown membership command ${JSON.stringify((cmd as { op: unknown }).op)}`);
    }
  }

  /**
   * A join request from node `key` (authenticated by the join service's Noise handshake): spends
   * one use of the invitation, admits the key, and returns what the node needs.
   */
  async redeem(req: JoinRequest, key: string): Promise<{ ok: true; clusterSecret: string; membership: string | null; enforced: true | false }> {
    const store = this.publisherOnly();
    if (req.cluster !== this.book.clusterId) {
      throw new ChunkswarmError('E_WRONG_CLUSTER', `the token is for cluster ${req.cluster.slice(0, 16)}, this publisher runs cluster ${this.book.clusterId.slice(0, 16)}`);
    }
    // Everything that can fail for a local reason before the invitation is spent.
    const clusterSecret = await readSecretFile(this.config.cluster.secretFile);
    const signingKey = await this.signingKey();
    await store.redeem(Buffer.from(req.secret, 'hex'), { key, name: req.name });
    await this.amend((ms) => [...ms.filter((m) => m.key !== key), { key, name: req.name }], signingKey);
    return { ok: true, clusterSecret, membership: this.book.text, enforced: this.book.enforced };
  }

  private async createToken(cmd: Extract<MembershipCommand, { op: 'token-create' }>): Promise<TokenCreated> {
    const store = this.publisherOnly();
    if (!Number.isFinite(cmd.ttlSec) || cmd.ttlSec < 1) throw ChunkswarmError.usage('--ttl must be at least 1 s');
    if (!Number.isInteger(cmd.uses) || cmd.uses < 1) throw ChunkswarmError.usage('--uses must be a positive integer');
    // --bootstrap is taken as given (more than a token holds is the caller's error); the config's list is drawn from.
    const remembered = (await BootstrapMemory.load(this.config.dataDir)).nodes.map(joinHostPort);
    const bootstrap = cmd.bootstrap && cmd.bootstrap.length > 0 ? cmd.bootstrap : tokenBootstrap(this.config.network.bootstrap, Math.random, remembered);
    if (bootstrap.length === 0) throw new ChunkswarmError('E_NO_BOOTSTRAP', 'no bootstrap node to put in the token: set network.bootstrap or pass --bootstrap host:port');
    const { invitation, secret } = await store.create({ ttlSec: cmd.ttlSec, uses: cmd.uses });
    const token = encodeToken({
      publisherKey: Buffer.from(this.config.cluster.publisherKey, 'hex'),
      joinKey: this.joinKeyPair.publicKey,
      secret,
      expires: Math.ceil(Date.parse(invitation.expires) / 1000),
      bootstrap,
    });
    return { token, id: invitation.id, expires: invitation.expires, uses: invitation.uses, bootstrap };
  }

  private async signingKey(): Promise<string> {
    const c = this.config;
    if (!c.publisher) throw ChunkswarmError.usage('only the publisher signs the membership: run this on the master');
    return readSecretFile(c.publisher.privateKeyFile);
  }

  private async amend(edit: (members: Member[]) => Member[], signingKey?: string): Promise<void> {
    const privateKeyPem = signingKey ?? (await this.signingKey());
    const record = await this.book.amend(edit, { privateKeyPem, selfKey: this.nodeKey, selfName: this.config.node.name });
    this.signed(record);
  }

  private publisherOnly(): InvitationStore {
    if (!this.invitations) throw ChunkswarmError.usage('join tokens are made and redeemed by the publisher: run this on the master');
    return this.invitations;
  }
}

function checkKey(key: string): void {
  if (!isHex64(key)) throw ChunkswarmError.usage(`${JSON.stringify(key)} is not a node key (64 lowercase hex characters, as "chunkswarm status" or "join" print it)`);
}
