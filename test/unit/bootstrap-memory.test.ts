import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetBook, ReportSigner, type FleetReport } from '../../src/fleet/index.js';
import { tokenBootstrap } from '../../src/membership/token.js';
import { reportedBootstrapNodes } from '../../src/session/fleet-gossip.js';
import { BootstrapMemory, DEFAULT_BOOTSTRAP_PORT, MAX_REMEMBERED, bootstrapPortFor } from '../../src/swarm/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cs-bootstrap-memory-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const at = (host: string, port: number) => ({ host, port });

describe('BootstrapMemory', () => {
  it('starts empty, keeps what it learns across a restart, new addresses first, and saves only on news', async () => {
    const m = await BootstrapMemory.load(dir);
    expect(m.nodes).toEqual([]);
    await m.learn([at('10.0.0.2', 49737), at('10.0.0.3', 49737)]);
    const file = join(dir, 'bootstrap-nodes.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(['10.0.0.2:49737', '10.0.0.3:49737']);
    await writeFile(file, '["10.0.0.3:49737","10.0.0.2:49737"]'); // a marker: an unchanged list is not written again
    await m.learn([at('10.0.0.3', 49737), at('10.0.0.2', 49737)]);
    expect(await readFile(file, 'utf8')).toBe('["10.0.0.3:49737","10.0.0.2:49737"]');
    await m.learn([at('10.0.0.4', 49737), at('10.0.0.2', 49737)]);
    expect((await BootstrapMemory.load(dir)).nodes).toEqual([at('10.0.0.4', 49737), at('10.0.0.2', 49737), at('10.0.0.3', 49737)]);
  });

  it(`holds at most ${MAX_REMEMBERED}, the newest, and takes a damaged file, or entries that are no IPv4 host:port, as nothing`, async () => {
    const m = await BootstrapMemory.load(dir);
    await m.learn(Array.from({ length: 20 }, (_, i) => at(`10.0.1.${i}`, 40000 + i)));
    await m.learn([at('10.0.2.1', 1)]);
    const back = (await BootstrapMemory.load(dir)).nodes;
    expect(back).toHaveLength(MAX_REMEMBERED);
    expect(back[0]).toEqual(at('10.0.2.1', 1));
    await writeFile(join(dir, 'bootstrap-nodes.json'), '{"not":');
    expect((await BootstrapMemory.load(dir)).nodes).toEqual([]);
    await writeFile(join(dir, 'bootstrap-nodes.json'), JSON.stringify(['web-2:49737', '10.0.0.1:0', '10.0.0.1:70000', 5, '10.0.0.9:49737']));
    expect((await BootstrapMemory.load(dir)).nodes).toEqual([at('10.0.0.9', 49737)]);
  });
});

describe('the bootstrap nodes the fleet reports name', () => {
  const self = new ReportSigner(randomBytes(32));
  const report = (s: ReportSigner, patch: Partial<FleetReport>): FleetReport => ({
    v: 1, node: s.publicKey, name: 'web', address: '10.0.0.5', at: 1000, publisher: false, phase: 'seeding',
    live: 1, newest: 1, progress: null, bytesUp: 0, bytesDown: 0, bytesFromPublisher: 0, peers: 1, banned: 0,
    lastError: null, pinned: false, livePath: '/live', drift: { live: null, records: 0, unpulled: [], blocked: false }, ...patch,
  });

  it('takes the report\'s address (else the one the node connected from) with its port, the most recently heard first, never its own', () => {
    const book = new FleetBook({ self: self.publicKey, allowlist: null, maxNodes: 10 });
    const [a, b, c, d] = [0, 1, 2, 3].map(() => new ReportSigner(randomBytes(32))) as [ReportSigner, ReportSigner, ReportSigner, ReportSigner];
    expect(book.offer(a.sign(report(a, { address: '10.0.0.5', bootstrapPort: 49737 })), 100)).not.toBeNull();
    expect(book.offer(b.sign(report(b, { address: 'web-6.example', bootstrapPort: 49800 })), 200)).not.toBeNull();
    book.connected(b.publicKey, '10.0.0.6:51234');
    expect(book.offer(c.sign(report(c, { address: '10.0.0.7', bootstrapPort: null })), 300)).not.toBeNull(); // runs none
    expect(book.offer(d.sign(report(d, { address: '0.0.0.0' })), 400)).not.toBeNull(); // an older node: no field
    book.setOwn(self.sign(report(self, { bootstrapPort: 49737, address: '10.0.0.1' })), report(self, { bootstrapPort: 49737, address: '10.0.0.1' }), 500);
    expect(reportedBootstrapNodes(book.entries(), self.publicKey)).toEqual([at('10.0.0.6', 49800), at('10.0.0.5', 49737)]);
  });

  it('a report with a bootstrap port that is no port is refused', () => {
    const book = new FleetBook({ self: self.publicKey, allowlist: null, maxNodes: 10 });
    const a = new ReportSigner(randomBytes(32));
    for (const bad of [0, 70000, 1.5, '49737']) {
      expect(() => book.offer(a.sign(report(a, { bootstrapPort: bad as number })), 1), String(bad)).toThrowError(expect.objectContaining({ code: 'E_PROTOCOL' }));
    }
  });
});

describe('join tokens', () => {
  it('fill the room the configured bootstrap nodes leave with the remembered ones', () => {
    const remembered = ['10.0.0.2:49737', '10.0.0.1:49737', '10.0.0.3:49737'];
    expect(tokenBootstrap(['10.0.0.1:49737'], Math.random, remembered)).toEqual(['10.0.0.1:49737', '10.0.0.2:49737', '10.0.0.3:49737']);
    const many = Array.from({ length: 20 }, (_, i) => `10.0.1.${i}:49737`);
    expect(tokenBootstrap(['10.0.0.1:49737'], Math.random, many)).toHaveLength(16);
    expect(tokenBootstrap(['10.0.0.1:49737'], Math.random, many)[0]).toBe('10.0.0.1:49737');
  });
});

describe('the bootstrap port a new node gets (join, init --join)', () => {
  it(`on loopback, where nodes share the machine, a free port other than ${DEFAULT_BOOTSTRAP_PORT}; none on 0.0.0.0`, async () => {
    const a = await bootstrapPortFor('127.0.0.1');
    expect(a).toBeGreaterThan(0);
    expect(a).not.toBe(DEFAULT_BOOTSTRAP_PORT);
    const held = createSocket('udp4');
    await new Promise<void>((resolve) => held.bind(a!, '127.0.0.1', resolve));
    try {
      expect(await bootstrapPortFor('127.0.0.1')).not.toBe(a);
    } finally {
      held.close();
    }
    expect(await bootstrapPortFor('0.0.0.0')).toBeNull();
  });
});
