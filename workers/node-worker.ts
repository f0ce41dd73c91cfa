// The worker on a PostgreSQL host: consumes only its own node's queue.
// Started by `pgha worker node --name NAME [--config FILE]`.
import { nodeSteps } from '../jobs/index.js';
import { findNode } from '../src/config/paths.js';
import { nodeQueueName } from '../src/queues.js';
import { startWorker } from './runtime.js';

export async function startNodeWorker(configFile: string | undefined, nodeName: string) {
  return startWorker(configFile, (config) => {
    findNode(config, nodeName);
    // one step at a time: steps of a node's flow touch the same data directory
    return { role: `node-worker[${nodeName}]`, queueName: nodeQueueName(config.cluster, nodeName), steps: nodeSteps, concurrency: 1 };
  });
}

