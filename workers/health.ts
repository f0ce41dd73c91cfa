// Health checks for load balancers, served by each node worker on one read of the cluster view; the
// answers are src/roles/health.ts's.
import { createServer, type Server } from 'node:http';
import type { ClusterConfig } from '../src/config/schema.js';
import { findNode } from '../src/config/paths.js';
import { readClusterView } from '../src/status.js';
import { authorized, dashboardToken } from '../src/auth.js';
import type { Logger } from 'winston';
import { healthAnswer, type HealthAnswer } from '../src/roles/health.js';

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
    readClusterView(config)
      .then((view) => send(healthAnswer(url.pathname, url.searchParams, me, view)))
      .catch((err) => send({ status: 503, body: { node: me, reason: `health check failed: ${(err as Error).message}` } }));
  });
  const host = config.health.host ?? node.host;
  server.on('error', (err) => logger.error(`health checks on ${host}:${config.health.port}: ${err.message}`));
  server.listen(config.health.port, host, () => logger.info(`health checks on http://${host}:${config.health.port}/primary|/replica|/health`));
  return server;
}
