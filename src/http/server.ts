import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChunkswarmError } from '../core/index.js';
import type { DriftRecordView, FleetView } from '../fleet/index.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import type { BytesSample } from './history.js';
import { listenAddress } from './listen-address.js';
import type { NodeMetrics } from './metrics.js';

export interface HttpSources {
  metrics: NodeMetrics;
  fleet(): FleetView;
  history(): BytesSample[];
  drift(): Promise<DriftRecordView[]>;
}

/**
 * The node's read-only HTTP listener (metrics.listen): /metrics for Prometheus, / for the dashboard
 * and the /api/ JSON it polls. GET and HEAD only; nothing on it changes the node.
 */
export class HttpListener {
  private constructor(private readonly server: Server, readonly address: string) {}

  static async start(listen: number | string, sources: HttpSources): Promise<HttpListener> {
    const { host, port } = listenAddress(listen);
    const server = createServer((req, res) => void route(req, res, sources));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(ChunkswarmError.fromSystem(err, `listening on ${host}:${port} (metrics.listen)`)));
      server.listen(port, host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    return new HttpListener(server, `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function route(req: IncomingMessage, res: ServerResponse, s: HttpSources): Promise<void> {
  const send = (status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const json = (v: unknown) => send(200, 'application/json; charset=utf-8', JSON.stringify(v));
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'read-only: GET and HEAD only\n');
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  try {
    switch (path) {
      case '/':
        return send(200, 'text/html; charset=utf-8', DASHBOARD_HTML);
      case '/metrics':
        return send(200, s.metrics.registry.contentType, await s.metrics.text());
      case '/api/fleet':
        return json(s.fleet());
      case '/api/history':
        return json(s.history());
      case '/api/drift':
        return json(await s.drift());
      default:
        return send(404, 'text/plain; charset=utf-8', 'not found\n');
    }
  } catch (err) {
    const e = ChunkswarmError.fromSystem(err, `answering ${path}`);
    send(500, 'text/plain; charset=utf-8', `${e.code}: ${e.message}\n`);
  }
}
