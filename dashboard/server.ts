// The dashboard: Bull Board at /queues over every queue of the cluster, and the live status as JSON.
// Started by `pgha dashboard [--config FILE]`.
import express from 'express';
import { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { loadConfig } from '../src/config/load.js';
import type { ClusterConfig } from '../src/config/schema.js';
import { allQueueNames } from '../src/queues.js';
import { redisConnection } from '../src/redis.js';
import { readStatus } from '../src/status.js';
import { createLogger } from '../src/logger.js';

export function createDashboard(config: ClusterConfig) {
  const connection = redisConnection(config.redis.url);
  const queues = allQueueNames(config).map((name) => new Queue(name, { connection }));
  const board = new ExpressAdapter();
  board.setBasePath('/queues');
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter: board, options: { uiConfig: { boardTitle: `pgha ${config.cluster}` } } });
  const app = express();
  app.use('/queues', board.getRouter());
  app.get('/api/status', async (_req, res) => {
    res.json(await readStatus(config, { barmanTimeoutMs: 5000 }));
  });
  app.get('/', (_req, res) => res.redirect('/queues'));
  const close = async () => {
    await Promise.all(queues.map((q) => q.close()));
    connection.disconnect();
  };
  return { app, close };
}


/** `pgha dashboard [--config FILE]`: serve until SIGTERM. */
export function serveDashboard(configFile?: string) {
  const { config } = loadConfig(configFile);
  const logger = createLogger('dashboard');
  const { app, close } = createDashboard(config);
  const server = app.listen(config.dashboard.port, config.dashboard.host, () =>
    logger.info(`dashboard on http://${config.dashboard.host}:${config.dashboard.port}/queues (pid ${process.pid})`),
  );
  const stop = () => server.close(() => void close().then(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}
