// The control worker: cluster-wide events (repmgrd's notifications) and the flows they start.
// Started by `pgha worker control` (cli/main.ts); it can run on any host with the config.
import { controlSteps } from '../jobs/index.js';
import { controlQueueName } from '../src/queues.js';
import type { ClusterConfig } from '../src/config/schema.js';
import { startWorker, type Service } from './runtime.js';

export function startControlWorker(config: ClusterConfig): Service {
  const running = startWorker(config, { role: 'control-worker', queueName: controlQueueName(config.cluster), steps: controlSteps, concurrency: 1 });
  return { ready: Promise.resolve(), stop: running.stop };
}
