// Health checks for load balancers, served by each node worker: this node read live, its peers from
// the latest read of the cluster view (viewCache below); the answers are src/roles/health.ts's.
import { createServer, type Server } from 'node:http';
import type { ClusterConfig } from '../src/config/schema.js';
import { findNode } from '../src/config/paths.js';
import { nodeViewOf, probe, readClusterView } from '../src/probe.js';
import { authorized, dashboardToken } from '../src/auth.js';
import type { Logger } from 'winston';
import { healthAnswer, type HealthAnswer } from '../src/roles/health.js';
import type { ClusterView, NodeView } from '../src/roles/view.js';

/** A read answers health checks for this long after it started (ms); a new read starts once the latest is refreshMs old. */
export const HEALTH_VIEW_FRESH_MS = 5000;
export const HEALTH_VIEW_REFRESH_MS = 500;

/**
 * The cluster view the health checks answer from. A load balancer asks every second or so, and one
 * read waits out the probe of a frozen or cut-off peer (up to 2 s): were each answer to wait for its
 * own read, every check would take 2 s while any node is frozen, past a load balancer's usual check
 * timeout, and it would mark even the healthy new primary down. So an answer comes from the latest
 * read begun at most freshMs ago, and a read older than refreshMs starts the next in the background;
 * only when none is fresh (the first check, or none for freshMs) does the answer wait for a read.
 * One read at a time. A failed read fails only the answers waiting for it.
 */
export function viewCache(read: () => Promise<ClusterView>, freshMs = HEALTH_VIEW_FRESH_MS, refreshMs = HEALTH_VIEW_REFRESH_MS, now: () => number = Date.now) {
  let latest: { view: ClusterView; at: number } | null = null;
  let reading: Promise<ClusterView> | null = null;
  const refresh = (): Promise<ClusterView> =>
    (reading ??= (async () => {
      const at = now();
      try {
        const view = await read();
        latest = { view, at };
        return view;
      } finally {
        reading = null;
      }
    })());
  return async (): Promise<ClusterView> => {
    if (latest && now() - latest.at <= freshMs) {
      if (now() - latest.at > refreshMs) refresh().catch(() => {});
      return latest.view;
    }
    return refresh();
  };
}

/** The view a check answers from (pure): the peers as last read, this node as read just now (its own state is what the check is about, and it answers fast unless it is the one frozen). */
export const withSelf = (view: ClusterView, self: NodeView): ClusterView => ({ nodes: view.nodes.map((n) => (n.name === self.name ? self : n)) });

/** Serve the health checks of node `me` on health.port (default: the node's own address). */
export function startHealthServer(config: ClusterConfig, me: string, logger: Logger): Server {
  const node = findNode(config, me);
  const token = config.health.open ? null : dashboardToken(config);
  const currentView = viewCache(() => readClusterView(config));
  const readSelf = async (): Promise<NodeView> => {
    const sentAt = Date.now();
    try {
      return nodeViewOf(config.nodes, me, { probe: await probe(config, node) }, sentAt);
    } catch (err) {
      return nodeViewOf(config.nodes, me, { error: err as Error }, sentAt);
    }
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://health');
    const send = (a: HealthAnswer) => {
      res.writeHead(a.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(a.body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') return send({ status: 405, body: { reason: 'GET only' } });
    if (token && !authorized(req.headers.authorization, token)) return send({ status: 401, body: { reason: 'health.open is false: send the dashboard token' } });
    Promise.all([currentView(), readSelf()])
      .then(([view, self]) => send(healthAnswer(url.pathname, url.searchParams, me, withSelf(view, self))))
      .catch((err) => send({ status: 503, body: { node: me, reason: `health check failed: ${(err as Error).message}` } }));
  });
  const host = config.health.host ?? node.host;
  server.on('error', (err) => logger.error(`health checks on ${host}:${config.health.port}: ${err.message}`));
  server.listen(config.health.port, host, () => logger.info(`health checks on http://${host}:${config.health.port}/primary|/replica|/health`));
  return server;
}
