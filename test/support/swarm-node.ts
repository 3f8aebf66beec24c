/**
 * Swarm-specific child-process fixture for integration tests; run the compiled file with
 * `fork(dist/test/support/swarm-node.js, [JSON config])`, usually with the net guard in execArgv.
 *
 * - member: a real Swarm. Writes "hello from <name>\n" to every authenticated peer and reports
 *   each line it receives.
 * - intruder: raw hyperswarm on the cluster's topic (an attacker who saw the topic on the DHT but
 *   lacks the secret). Sends a MAC made with the wrong secret (or nothing, to peers listed in
 *   silentTo), then application bytes, and reports every byte it receives.
 *
 * Parent -> child: {type:'state'} | {type:'close'}. Child -> parent: FixtureMessage.
 */
import HyperDHT from 'hyperdht';
import Hyperswarm from 'hyperswarm';
import { authMac, createDht, AUTH_FRAME_BYTES, dataHeader, encodeAuthFrame, Swarm, type SwarmStats } from '../../src/swarm/index.js';

export interface MemberConfig {
  mode: 'member';
  name: string;
  secret: string;
  bootstrap: Array<{ host: string; port: number }>;
  seed: string;
  allowlist?: string[];
  authTimeoutMs?: number;
}

export interface IntruderConfig {
  mode: 'intruder';
  name: string;
  wrongSecret: string;
  topic: string;
  bootstrap: Array<{ host: string; port: number }>;
  seed: string;
  silentTo: string[];
}

export interface IntruderState {
  connections: number;
  /** Most bytes received on one connection; a member's auth frame alone is AUTH_FRAME_BYTES. */
  maxBytesOnConnection: number;
  /** Remote auth frames that verified with the intruder's (wrong) secret. */
  verified: number;
}

export type FixtureMessage =
  | { type: 'ready'; publicKey: string }
  | { type: 'message'; from: string; text: string }
  | { type: 'state'; stats?: SwarmStats; peers?: string[]; intruder?: IntruderState };

const send = (msg: FixtureMessage): void => {
  process.send?.(msg);
};
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

async function member(cfg: MemberConfig): Promise<() => Promise<void>> {
  const swarm = new Swarm({
    clusterSecret: hex(cfg.secret),
    bootstrap: cfg.bootstrap,
    keySeed: hex(cfg.seed),
    ...(cfg.allowlist ? { allowlist: cfg.allowlist } : {}),
    ...(cfg.authTimeoutMs ? { authTimeoutMs: cfg.authTimeoutMs } : {}),
  });
  swarm.on('peer', (peer) => {
    let text = '';
    peer.stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
        send({ type: 'message', from: peer.publicKey, text: text.slice(0, nl) });
        text = text.slice(nl + 1);
      }
    });
    peer.stream.on('error', () => undefined);
    peer.stream.write(`hello from ${cfg.name}\n`);
  });
  await swarm.ready();
  send({ type: 'ready', publicKey: swarm.publicKey });
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'state') send({ type: 'state', stats: swarm.stats(), peers: swarm.peers.map((p) => p.publicKey) });
  });
  return () => swarm.close();
}

async function intruder(cfg: IntruderConfig): Promise<() => Promise<void>> {
  const keyPair = HyperDHT.keyPair(hex(cfg.seed));
  const dht = createDht({ bootstrap: cfg.bootstrap, host: '127.0.0.1', keyPair });
  const swarm = new Hyperswarm({ dht, keyPair });
  const state: IntruderState = { connections: 0, maxBytesOnConnection: 0, verified: 0 };
  const wrongSecret = hex(cfg.wrongSecret);

  swarm.on('connection', (conn) => {
    state.connections++;
    conn.on('error', () => undefined);
    const remote = conn.remotePublicKey.toString('hex');
    let received: Buffer = Buffer.alloc(0);
    let checked = false;
    conn.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      state.maxBytesOnConnection = Math.max(state.maxBytesOnConnection, received.byteLength);
      if (!checked && received.byteLength >= AUTH_FRAME_BYTES && conn.handshakeHash) {
        checked = true;
        const mac = authMac(wrongSecret, conn.handshakeHash, conn.remotePublicKey);
        if (mac.equals(received.subarray(2, AUTH_FRAME_BYTES))) state.verified++;
      }
    });
    void conn.opened.then((opened) => {
      if (!opened || !conn.handshakeHash || cfg.silentTo.includes(remote)) return;
      conn.write(encodeAuthFrame(authMac(wrongSecret, conn.handshakeHash, conn.publicKey)));
      // Framed like real application data, so a member that wrongly accepted us would report it.
      const text = Buffer.from(`hello from ${cfg.name}\n`);
      conn.write(Buffer.concat([dataHeader(text.byteLength), text]));
    });
  });

  const discovery = swarm.join(hex(cfg.topic), { server: true, client: true });
  await discovery.flushed();
  const timer = setInterval(() => void discovery.refresh().catch(() => undefined), 1000);
  send({ type: 'ready', publicKey: keyPair.publicKey.toString('hex') });
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'state') send({ type: 'state', intruder: { ...state } });
  });
  return async () => {
    clearInterval(timer);
    await swarm.destroy();
  };
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as MemberConfig | IntruderConfig;
const close = cfg.mode === 'member' ? await member(cfg) : await intruder(cfg);
process.on('message', (msg: { type: string }) => {
  if (msg.type !== 'close') return;
  void close().finally(() => process.exit(0));
});
