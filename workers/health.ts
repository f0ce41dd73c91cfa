// Health checks for load balancers, served by each node worker (Patroni-style): GET /primary is 200
// only on the writable primary that sees a majority of the cluster, /replica only on a streaming
// standby (?lag=BYTES), /health whenever PostgreSQL answers. Anything else is 503 (or 404).
import { createServer, type Server } from 'node:http';
import type { ClusterConfig } from '../src/config/schema.js';
import { findNode } from '../src/config/paths.js';
import { nodeAnswered as answered, readNodes, type NodeStatus } from '../src/status.js';
import { authorized, dashboardToken } from '../src/auth.js';
import type { Logger } from 'winston';
import { hasMajority } from '../src/roles/quorum.js';

/** "1048576", "16kB", "1MB", "2GB" -> bytes; null when it is not one (pure). */
export function parseLag(text: string): number | null {
  const m = /^(\d+)\s*(B|kB|KB|MB|GB)?$/.exec(text.trim());
  if (!m) return null;
  const unit = { B: 1, kB: 1024, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2] ?? 'B']!;
  return Number(m[1]) * unit;
}


export interface HealthAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** The answer to a health check from what every node said just now (pure). */
export function healthAnswer(path: string, query: URLSearchParams, me: string, nodes: NodeStatus[]): HealthAnswer {
  const self = nodes.find((n) => n.name === me)!;
  const body: Record<string, unknown> = { node: me, role: self.role, timeline: self.timeline, upstream: self.upstream, lagBytes: self.lagBytes };
  const no = (reason: string): HealthAnswer => ({ status: 503, body: { ...body, reason } });
  const yes = (): HealthAnswer => ({ status: 200, body });
  switch (path) {
    case '/health':
      return answered(self) ? yes() : no(`PostgreSQL does not answer${self.error ? `: ${self.error}` : ''}`);
    case '/primary':
    case '/read-write': {
      if (self.role !== 'primary') return no(self.role === 'unknown' && answered(self) ? (self.error ?? 'not the only writable node') : `not the primary (${self.role})`);
      // a primary cut off from most of the cluster may be replaced: send it no writes
      const seen = nodes.filter(answered).length;
      if (!hasMajority(seen, nodes.length)) return no(`sees ${seen} of ${nodes.length} nodes, not a majority`);
      return yes();
    }
    case '/replica': {
      if (self.role !== 'standby') return no(`not a standby (${self.role})`);
      if (!self.upstream) return no('not streaming from an upstream node');
      const lagParam = query.get('lag');
      if (lagParam !== null) {
        const limit = parseLag(lagParam);
        if (limit === null) return { status: 400, body: { ...body, reason: `lag=${lagParam}: give bytes, or a number with kB, MB or GB` } };
        if (self.lagBytes === null) return no('lag unknown: no primary answers');
        if (self.lagBytes > limit) return no(`lag ${self.lagBytes} bytes is over ${limit}`);
      }
      return yes();
    }
    default:
      return { status: 404, body: { reason: `no health check ${path}: /primary, /replica[?lag=BYTES], /health` } };
  }
}

/** Serve the health checks of node `me` on health.port (default: the node's own address). */
export function startHealthServer(config: ClusterConfig, me: string, logger: Logger): Server {
  const node = findNode(config, me);
  const token = config.health.open ? null : dashboardToken(config);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://health');
    const send = (a: HealthAnswer) => {
      res.writeHead(a.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(a.body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') return send({ status: 405, body: { reason: 'GET only' } });
    if (token && !authorized(req.headers.authorization, token)) return send({ status: 401, body: { reason: 'health.open is false: send the dashboard token' } });
    readNodes(config)
      .then((nodes) => send(healthAnswer(url.pathname, url.searchParams, me, nodes)))
      .catch((err) => send({ status: 503, body: { node: me, reason: `health check failed: ${(err as Error).message}` } }));
  });
  const host = config.health.host ?? node.host;
  server.on('error', (err) => logger.error(`health checks on ${host}:${config.health.port}: ${err.message}`));
  server.listen(config.health.port, host, () => logger.info(`health checks on http://${host}:${config.health.port}/primary|/replica|/health`));
  return server;
}
