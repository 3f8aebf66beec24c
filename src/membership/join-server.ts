import type HyperDHT from 'hyperdht';
import { ChunkswarmError, isChunkswarmError, settlesWithin, type Logger } from '../core/index.js';
import { JOIN_REFUSALS, joinRequestSchema, jsonLine, MAX_REQUEST_BYTES, readJsonLine, type JoinAnswer, type JoinRequest } from './join-protocol.js';

/** Admits the node `remoteKey` (its Noise static key) for this request, or throws the refusal. */
export type RedeemHandler = (req: JoinRequest, remoteKey: string) => Promise<Extract<JoinAnswer, { ok: true }>>;

const REQUEST_TIMEOUT_MS = 10_000;
/** How long a stop waits for the service to leave the DHT. */
const GRACEFUL_CLOSE_MS = 1000;
/** Joins are rare; more at once is someone knocking. */
const MAX_CONCURRENT = 8;

/**
 * The publisher's join service: a DHT server on its own key pair (the token names it), that
 * exchanges a valid invitation for the cluster secret and admits the caller's key. It shares the
 * swarm's DHT node, so it adds no port and no node to the DHT.
 */
export class JoinServer {
  private active = 0;

  private constructor(private readonly server: HyperDHT.Server, private readonly handle: RedeemHandler, private readonly log: Logger) {}

  static async listen(dht: HyperDHT, keyPair: HyperDHT.KeyPair, handle: RedeemHandler, log: Logger): Promise<JoinServer> {
    let self: JoinServer | null = null;
    const server = dht.createServer({}, (conn) => void self?.serve(conn));
    self = new JoinServer(server, handle, log);
    await server.listen(keyPair);
    return self;
  }

  /**
   * Unannouncing the service needs the DHT; when the nodes around are stopping too (a whole
   * cluster shut down at once) its queries waited out their timeouts, 4 s. The swarm's close, next,
   * tears the shared DHT node down and with it whatever is still pending here.
   */
  async close(): Promise<void> {
    await settlesWithin(this.server.close(), GRACEFUL_CLOSE_MS);
  }

  /**
   * Announces the service again soon (hyperdht's announcer picks it up within ~3 s). Its first
   * announce went to the nodes closest to the join key when the publisher started; nodes that
   * joined since may be closer, and a joiner's lookup asks them: until the next ~5 min round it
   * would not find the service.
   */
  refresh(): void {
    this.server.refresh();
  }

  private async serve(conn: HyperDHT.NoiseSecretStream): Promise<void> {
    conn.on('error', () => undefined);
    if (this.active >= MAX_CONCURRENT) return void conn.destroy();
    this.active++;
    const remote = conn.remotePublicKey.toString('hex');
    try {
      const answer = await this.answer(conn, remote);
      conn.end(jsonLine(answer));
    } catch {
      conn.destroy();
    } finally {
      this.active--;
    }
  }

  private async answer(conn: HyperDHT.NoiseSecretStream, remote: string): Promise<JoinAnswer> {
    let req: JoinRequest;
    try {
      const parsed = joinRequestSchema.safeParse(await readJsonLine(conn, { maxBytes: MAX_REQUEST_BYTES, timeoutMs: REQUEST_TIMEOUT_MS, what: 'join request' }));
      if (!parsed.success) return { ok: false, code: 'E_PROTOCOL', message: 'malformed join request: is the joining node running the same chunkswarm version?' };
      req = parsed.data;
    } catch (err) {
      if (isChunkswarmError(err, 'E_PROTOCOL')) return { ok: false, code: err.code, message: err.message };
      throw err;
    }
    try {
      const ok = await this.handle(req, remote);
      this.log.info(`join: node ${remote.slice(0, 12)}${req.name ? ` (${req.name})` : ''} admitted with an invitation`, { peer: remote });
      return ok;
    } catch (err) {
      const e = ChunkswarmError.fromSystem(err, 'admitting a joining node');
      this.log.warn(`join: refused node ${remote.slice(0, 12)}${req.name ? ` (${req.name})` : ''}: ${e.message}`, { peer: remote, code: e.code });
      if (JOIN_REFUSALS.includes(e.code)) return { ok: false, code: e.code, message: e.message };
      return { ok: false, code: 'E_IO', message: `the publisher could not complete the join (${e.code}); see its log` };
    }
  }
}
